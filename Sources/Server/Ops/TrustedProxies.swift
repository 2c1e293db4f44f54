#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HTTPTypes

/// An IPv4 or IPv6 address as its network-order bytes (4 or 16). IPv4-mapped IPv6 addresses
/// (`::ffff:192.0.2.1`, what a dual-stack socket reports for an IPv4 peer) are stored as IPv4, so
/// one CIDR matches a client whichever way the kernel spelled it.
struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    let bytes: [UInt8]

    /// Parses a literal address (`192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`); nil otherwise.
    /// Zone ids (`fe80::1%eth0`) are dropped.
    init?(_ text: some StringProtocol) {
        var literal = String(text)
        if literal.hasPrefix("[") && literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
        if let percent = literal.firstIndex(of: "%") { literal = String(literal[..<percent]) }
        var v4 = in_addr()
        if literal.withCString({ inet_pton(AF_INET, $0, &v4) }) == 1 {
            self.bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard literal.withCString({ inet_pton(AF_INET6, $0, &v6) }) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            self.bytes = Array(bytes[12..<16])
        } else {
            self.bytes = bytes
        }
    }

    var isIPv4: Bool { bytes.count == 4 }

    /// The canonical text (`inet_ntop`): what rate-limit keys, sessions and logs record.
    var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        guard ok else { return "" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`; a bare address is one host).
struct CIDRBlock: Hashable, Sendable, CustomStringConvertible {
    let network: IPAddress
    let prefixLength: Int

    /// Parses `address[/prefix]`; nil when the address is not a literal or the prefix is out of
    /// range (0-32 for IPv4, 0-128 for IPv6). Host bits set in the address are ignored.
    init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0].trimmingWhitespace()) else { return nil }
        let spelledV6 = parts[0].contains(":")
        let maxLength = spelledV6 ? 128 : 32
        if parts.count == 2 {
            guard let length = Int(parts[1].trimmingWhitespace()), (0...maxLength).contains(length) else { return nil }
            // `::ffff:10.0.0.0/104` is stored as IPv4: move its prefix into IPv4's 32 bits.
            if spelledV6 && address.isIPv4 {
                guard length >= 96 else { return nil }
                prefixLength = length - 96
            } else {
                prefixLength = length
            }
        } else {
            prefixLength = address.bytes.count * 8
        }
        network = address
    }

    /// Whether `address` is inside this block (an IPv4 block never matches an IPv6 address).
    func contains(_ address: IPAddress) -> Bool {
        guard address.bytes.count == network.bytes.count else { return false }
        var remaining = prefixLength
        for i in 0..<network.bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if network.bytes[i] & mask != address.bytes[i] & mask { return false }
            remaining -= bits
        }
        return true
    }

    var description: String { "\(network)/\(prefixLength)" }
}

/// `TRUSTED_PROXIES`: the reverse proxies whose forwarding headers are believed.
///
/// The client address is the socket's peer unless that peer is a trusted proxy. Then the
/// forwarding header is walked from the right (the hop nearest to us) leftwards, and the first
/// hop that is not itself a trusted proxy is the client: the rightmost untrusted hop, so a client
/// cannot choose its own address by sending a forged header (whatever it wrote sits to the left
/// of what our proxy appended). The rule is the one MDN and RFC 7239 §7.4 describe for
/// `X-Forwarded-For`/`Forwarded`; nginx's `real_ip_recursive on` does the same.
///
/// Only ONE header is read, the one the operator's proxy maintains (`TRUSTED_PROXY_HEADER`,
/// ``Header``): `X-Forwarded-For` (`client, proxy1, proxy2`; the default, what nginx's
/// `$proxy_add_x_forwarded_for` appends to) or `Forwarded` (RFC 7239:
/// `for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`). The other header is ignored: a proxy
/// that appends to one passes a client's own copy of the other through untouched, so preferring
/// whichever is present would let the client pick its address. A hop that is not an address
/// (`unknown`, an obfuscated `_id`, garbage) ends the walk at the hop to its right, so junk
/// never yields a key-less client that would escape per-IP rate limits.
public struct TrustedProxies: Sendable, Equatable {
    let blocks: [CIDRBlock]
    /// The forwarding header the trusted proxies maintain (`TRUSTED_PROXY_HEADER`).
    public var header: Header = .xForwardedFor

    /// `TRUSTED_PROXY_HEADER`: which forwarding header names the client.
    public enum Header: String, Sendable, Equatable, CaseIterable {
        /// `X-Forwarded-For` (the default; nginx's `$proxy_add_x_forwarded_for`).
        case xForwardedFor = "x-forwarded-for"
        /// `Forwarded` (RFC 7239), for a proxy that appends `for=` to it.
        case forwarded = "forwarded"
    }

    /// No proxy is trusted: the peer address is the client.
    public static let none = TrustedProxies(blocks: [])

    init(blocks: [CIDRBlock]) { self.blocks = blocks }

    public var isEmpty: Bool { blocks.isEmpty }

    /// Parses a comma-separated list of CIDRs or addresses. Throws ``InvalidEntries`` naming
    /// every entry that does not parse.
    public init(parsing list: String) throws {
        var blocks: [CIDRBlock] = []
        var bad: [String] = []
        for raw in list.split(separator: ",") {
            let entry = raw.trimmingWhitespace()
            guard !entry.isEmpty else { continue }
            if let block = CIDRBlock(entry) { blocks.append(block) } else { bad.append(String(entry)) }
        }
        guard bad.isEmpty else { throw InvalidEntries(entries: bad) }
        self.blocks = blocks
    }

    public struct InvalidEntries: Error, CustomStringConvertible {
        public let entries: [String]
        public var description: String { "not an IPv4/IPv6 address or CIDR: \(entries.joined(separator: ", "))" }
    }

    func trusts(_ address: IPAddress) -> Bool { blocks.contains { $0.contains(address) } }

    /// The client address of a request that arrived from `peer` (the socket's remote address)
    /// with `headers`, in canonical text form; nil only when the peer is unknown (a Unix socket).
    public func clientAddress(peer: String?, headers: HTTPFields) -> String? {
        guard let peerText = peer else { return nil }
        guard let peerAddress = IPAddress(peerText) else { return peerText }
        guard !blocks.isEmpty, trusts(peerAddress) else { return peerAddress.description }
        let hops: [Substring]
        switch header {
        case .forwarded:
            guard let forwarded = Self.headerValues(headers, .forwarded) else { return peerAddress.description }
            hops = Self.forwardedFor(forwarded)
        case .xForwardedFor:
            guard let xff = Self.headerValues(headers, .xForwardedFor) else { return peerAddress.description }
            hops = xff.flatMap { $0.split(separator: ",") }.map { $0.trimmingWhitespace() }
        }
        var client = peerAddress
        for hop in hops.reversed() {
            guard let address = Self.hopAddress(hop) else { break }
            client = address
            if !trusts(address) { break }
        }
        return client.description
    }

    static func headerValues(_ headers: HTTPFields, _ name: HTTPField.Name) -> [Substring]? {
        let values = headers[values: name]
        return values.isEmpty ? nil : values.map { Substring($0) }
    }

    /// The `for=` values of each element of RFC 7239 `Forwarded` headers, in order (an element
    /// without `for` counts as an unknown hop).
    static func forwardedFor(_ values: [Substring]) -> [Substring] {
        var hops: [Substring] = []
        for value in values {
            for element in value.split(separator: ",") {
                var hop: Substring = "unknown"
                for pair in element.split(separator: ";") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2, kv[0].trimmingWhitespace().lowercased() == "for" else { continue }
                    var v = kv[1].trimmingWhitespace()
                    if v.hasPrefix("\"") && v.hasSuffix("\"") && v.count >= 2 { v = v.dropFirst().dropLast() }
                    hop = v
                }
                hops.append(hop)
            }
        }
        return hops
    }

    /// One hop's address: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`,
    /// `2001:db8::1`; nil for anything else.
    static func hopAddress(_ hop: Substring) -> IPAddress? {
        if hop.hasPrefix("[") {
            guard let close = hop.firstIndex(of: "]") else { return nil }
            return IPAddress(hop[hop.index(after: hop.startIndex)..<close])
        }
        if let address = IPAddress(hop) { return address }
        // IPv4 with a port
        if let colon = hop.firstIndex(of: ":"), hop[hop.index(after: colon)...].allSatisfy(\.isNumber), !hop[..<colon].contains(":") {
            return IPAddress(hop[..<colon])
        }
        return nil
    }
}

extension HTTPField.Name {
    static var forwarded: Self { Self("Forwarded")! }
    static var xForwardedFor: Self { Self("X-Forwarded-For")! }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
