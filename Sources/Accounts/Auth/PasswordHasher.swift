import Crypto
import CryptoExtras
import Foundation
import NIOPosix

/// scrypt parameters; encoded into every stored hash so they can be raised later.
public struct ScryptParameters: Sendable, Equatable {
    /// CPU/memory cost N (a power of two).
    public var cost: Int
    public var blockSize: Int
    public var parallelism: Int

    /// One of OWASP's equivalent scrypt settings (N=2^15, r=8, p=3): 32 MiB per hash.
    public static let owasp = ScryptParameters(cost: 1 << 15, blockSize: 8, parallelism: 3)
    /// Cheap parameters for tests only.
    public static let testing = ScryptParameters(cost: 1 << 10, blockSize: 8, parallelism: 1)

    public init(cost: Int, blockSize: Int, parallelism: Int) {
        self.cost = cost
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    var memoryBytes: Int { 128 * cost * blockSize * parallelism }
}

/// Hashes and verifies passwords with scrypt, stored as PHC strings
/// (`$scrypt$ln=15,r=8,p=3$<salt b64>$<hash b64>`).
///
/// Work runs on a dedicated thread pool (never an event loop, never the
/// database's pool) whose size bounds concurrency; at most `maxQueued` callers
/// wait, beyond that ``PasswordHasherError/overloaded`` sheds load.
public final class PasswordHasher: Sendable {
    public let parameters: ScryptParameters
    private let pool: NIOThreadPool
    private let gate: ConcurrencyGate
    private static let keyLength = 32
    private static let saltLength = 16

    public init(parameters: ScryptParameters = .owasp, threads: Int = 2, maxQueued: Int = 256) {
        self.parameters = parameters
        self.pool = NIOThreadPool(numberOfThreads: threads)
        self.pool.start()
        self.gate = ConcurrencyGate(limit: threads, maxWaiting: maxQueued)
    }

    deinit {
        pool.shutdownGracefully { _ in }
    }

    public enum PasswordHasherError: Error {
        case overloaded
        case malformedHash
    }

    /// Returns a PHC string for `password`.
    public func hash(_ password: String) async throws -> String {
        let salt = (0..<Self.saltLength).map { _ in UInt8.random(in: .min ... .max) }
        let parameters = self.parameters
        let derived = try await run { try Self.derive(password, salt: salt, parameters: parameters) }
        return Self.format(parameters: parameters, salt: salt, hash: derived)
    }

    public struct Verification: Sendable {
        public let matches: Bool
        /// The stored hash used weaker (or different) parameters than now configured.
        public let needsRehash: Bool
    }

    public func verify(_ password: String, against phc: String) async throws -> Verification {
        guard let parsed = Self.parse(phc) else { throw PasswordHasherError.malformedHash }
        let derived = try await run { try Self.derive(password, salt: parsed.salt, parameters: parsed.parameters) }
        let matches = Self.constantTimeEquals(derived, parsed.hash)
        return Verification(matches: matches, needsRehash: parsed.parameters != parameters)
    }

    /// Spends the same work as a real verification, for unknown accounts.
    public func burnVerification(_ password: String) async throws {
        let salt = [UInt8](repeating: 0x5a, count: Self.saltLength)
        let parameters = self.parameters
        _ = try await run { try Self.derive(password, salt: salt, parameters: parameters) }
    }

    private func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        guard await gate.enter() else { throw PasswordHasherError.overloaded }
        do {
            let value = try await pool.runIfActive(work)
            await gate.leave()
            return value
        } catch {
            await gate.leave()
            throw error
        }
    }

    private static func derive(_ password: String, salt: [UInt8], parameters: ScryptParameters) throws -> [UInt8] {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: keyLength,
            rounds: parameters.cost, blockSize: parameters.blockSize, parallelism: parameters.parallelism,
            maxMemory: parameters.memoryBytes + 1_048_576
        )
        return key.withUnsafeBytes { Array($0) }
    }

    static func format(parameters: ScryptParameters, salt: [UInt8], hash: [UInt8]) -> String {
        let ln = parameters.cost.trailingZeroBitCount
        return "$scrypt$ln=\(ln),r=\(parameters.blockSize),p=\(parameters.parallelism)$\(b64(salt))$\(b64(hash))"
    }

    static func parse(_ phc: String) -> (parameters: ScryptParameters, salt: [UInt8], hash: [UInt8])? {
        let parts = phc.split(separator: "$", omittingEmptySubsequences: true)
        guard parts.count == 4, parts[0] == "scrypt" else { return nil }
        var values: [String: Int] = [:]
        for pair in parts[1].split(separator: ",") {
            let kv = pair.split(separator: "=")
            guard kv.count == 2, let value = Int(kv[1]) else { return nil }
            values[String(kv[0])] = value
        }
        guard let ln = values["ln"], let r = values["r"], let p = values["p"], (1...30).contains(ln), r > 0, p > 0, r * p < 1 << 20,
              let salt = unb64(String(parts[2])), let hash = unb64(String(parts[3])), !hash.isEmpty
        else { return nil }
        return (ScryptParameters(cost: 1 << ln, blockSize: r, parallelism: p), salt, hash)
    }

    private static func b64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().trimmingCharacters(in: CharacterSet(charactersIn: "="))
    }

    private static func unb64(_ text: String) -> [UInt8]? {
        let padded = text + String(repeating: "=", count: (4 - text.count % 4) % 4)
        return Data(base64Encoded: padded).map(Array.init)
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

/// Admits at most `limit` callers at once and at most `maxWaiting` in line.
actor ConcurrencyGate {
    private let limit: Int
    private let maxWaiting: Int
    private var active = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int, maxWaiting: Int) {
        self.limit = limit
        self.maxWaiting = maxWaiting
    }

    func enter() async -> Bool {
        if active < limit {
            active += 1
            return true
        }
        guard waiters.count < maxWaiting else { return false }
        await withCheckedContinuation { waiters.append($0) }
        return true
    }

    func leave() {
        if waiters.isEmpty {
            active -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
