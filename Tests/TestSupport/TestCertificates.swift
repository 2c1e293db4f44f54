import Foundation
import Synchronization

/// A throwaway CA and a server certificate for 127.0.0.1 and localhost,
/// generated once per test process with the `openssl` command-line tool (EC P-256, valid
/// two days). The one test CA of every test target: MailTests' Resend client and
/// AccountsTests' outbox worker both trust it when talking to ``FakeResendServer``.
public struct TestCertificates: Sendable {
    public let directory: URL
    /// PEM of the CA certificate (what the client is told to trust).
    public var caCertificatePath: String { self.directory.appendingPathComponent("ca.pem").path }
    /// PEM of the server certificate, signed by the CA.
    public var serverCertificatePath: String { self.directory.appendingPathComponent("server.pem").path }
    public var serverKeyPath: String { self.directory.appendingPathComponent("server.key").path }

    public struct GenerationFailed: Error, CustomStringConvertible {
        public var description: String
    }

    private static let cache = Mutex<Result<TestCertificates, GenerationFailed>?>(nil)

    /// The process-wide certificates, generated on first use.
    public static func shared() throws -> TestCertificates {
        try self.cache.withLock { cached in
            if let cached { return try cached.get() }
            let result: Result<TestCertificates, GenerationFailed>
            do {
                result = .success(try Self.generate())
            } catch let error as GenerationFailed {
                result = .failure(error)
            } catch {
                result = .failure(GenerationFailed(description: "\(error)"))
            }
            cached = result
            return try result.get()
        }
    }

    private static func generate() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("switchboard-test-ca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let extensions = """
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth
            subjectAltName = IP:127.0.0.1, DNS:localhost
            """
        try extensions.write(to: directory.appendingPathComponent("server.ext"), atomically: true, encoding: .utf8)

        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(
            ["req", "-x509"] + ec + [
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                "-subj", "/CN=Switchboard Test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ],
            in: directory
        )
        try Self.openssl(
            ["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
            in: directory
        )
        try Self.openssl(
            [
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
            ],
            in: directory
        )
        return TestCertificates(directory: directory)
    }

    private static func openssl(_ arguments: [String], in directory: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = directory
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw GenerationFailed(description: "cannot run openssl (is it installed?): \(error)")
        }
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: output, as: UTF8.self)
            throw GenerationFailed(
                description: "openssl \(arguments.first ?? "") exited with \(process.terminationStatus): \(message)"
            )
        }
    }
}
