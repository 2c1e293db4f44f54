import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Re-reads `TLS_CERT_FILE` / `TLS_KEY_FILE` on SIGHUP (what certbot's deploy hook or
/// `systemctl reload` sends). A bad new pair is logged at error and the old one stays in use.
struct TLSReloadService: Service {
    let certificates: TLSCertificates
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            do {
                try certificates.reload()
                logger.info("TLS certificate reloaded", metadata: [
                    "tls.cert.file": .string(certificates.files.certificateFile),
                    "tls.cert.expiry": .string(ISO8601DateFormatter().string(from: certificates.expiry)),
                ])
            } catch {
                logger.error("TLS certificate reload failed; still serving the previous certificate", metadata: ["error": "\(error)"])
            }
        }
    }
}
