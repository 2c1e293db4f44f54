import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOSSL

/// The server's TLS context, built from `TLS_CERT_FILE` + `TLS_KEY_FILE`, swappable at run time.
///
/// Each new connection takes the context current at its accept (``TLSServerChannel``), so a
/// reload changes what new handshakes present and leaves open connections (and their
/// WebSockets) as they are. A reload that fails (unreadable file, bad PEM, a key that is not the
/// certificate's, a certificate past its `notAfter`) throws and keeps the old context.
/// TLS 1.2 is the minimum version (Mozilla's "intermediate" profile; OWASP ASVS 5.0 V12.1.1).
/// TLS 1.2 offers only ``tls12CipherSuites`` (forward-secret ECDHE with an AEAD cipher), so
/// static-RSA key exchange and CBC/SHA-1 suites are refused; TLS 1.3's suites are BoringSSL's
/// fixed set (all AEAD) and unchanged.
public final class TLSCertificates: Sendable {
    public let files: OpsConfiguration.TLSFiles
    private let context: NIOLockedValueBox<NIOSSLContext>
    private let notAfter: NIOLockedValueBox<Date>

    /// Loads the files; throws ``TLSLoadError`` when they do not make a usable context.
    public init(files: OpsConfiguration.TLSFiles, now: Date = Date()) throws {
        self.files = files
        let loaded = try Self.load(files, now: now)
        self.context = NIOLockedValueBox(loaded.context)
        self.notAfter = NIOLockedValueBox(loaded.notAfter)
    }

    /// The context new connections handshake with.
    public var current: NIOSSLContext { context.withLockedValue { $0 } }

    /// When the served leaf certificate expires.
    public var expiry: Date { notAfter.withLockedValue { $0 } }

    /// Re-reads the files and swaps the context in; on failure keeps the old one and throws.
    public func reload(now: Date = Date()) throws {
        let loaded = try Self.load(files, now: now)
        context.withLockedValue { $0 = loaded.context }
        notAfter.withLockedValue { $0 = loaded.notAfter }
    }

    /// The TLS 1.2 cipher suites, in preference order (OpenSSL names): Mozilla's "intermediate"
    /// configuration (ssl-config.mozilla.org, guidelines 5.7) without its DHE suites, which
    /// BoringSSL does not implement.
    public static let tls12CipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ]

    public struct TLSLoadError: Error, CustomStringConvertible {
        public let description: String
    }

    static func load(_ files: OpsConfiguration.TLSFiles, now: Date) throws -> (context: NIOSSLContext, notAfter: Date) {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateFile)
        } catch {
            throw TLSLoadError(description: "TLS_CERT_FILE '\(files.certificateFile)': not a PEM certificate (\(error))")
        }
        guard let leaf = chain.first else { throw TLSLoadError(description: "TLS_CERT_FILE '\(files.certificateFile)' holds no certificate") }
        do {
            key = try NIOSSLPrivateKey(file: files.privateKeyFile, format: .pem)
        } catch {
            throw TLSLoadError(description: "TLS_KEY_FILE '\(files.privateKeyFile)': not a PEM private key (\(error))")
        }
        let notAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        if notAfter <= now {
            throw TLSLoadError(description: "TLS_CERT_FILE '\(files.certificateFile)' expired at \(ISO8601DateFormatter().string(from: notAfter))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = tls12CipherSuites.joined(separator: ":")
        configuration.applicationProtocols = ["http/1.1"]
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSLoadError(description: "TLS_KEY_FILE '\(files.privateKeyFile)' does not match TLS_CERT_FILE (\(error))")
        }
        return (context, notAfter)
    }
}
