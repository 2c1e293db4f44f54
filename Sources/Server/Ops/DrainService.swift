import Logging
import ServiceLifecycle

/// Runs last in `serve`'s service group, so graceful shutdown (SIGTERM) reaches it first: it marks
/// the node not ready (`/ready` answers 503) and waits `DRAIN_DELAY` while the server still serves,
/// so a load balancer polling `/ready` stops sending new clients before connections are drained.
struct DrainService: Service {
    let readiness: Readiness
    let delay: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        readiness.beginDraining()
        logger.info("shutting down: not ready; draining", metadata: ["drain.delay.ms": "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)"])
        if delay > .zero { try? await Task.sleep(for: delay) }
    }
}
