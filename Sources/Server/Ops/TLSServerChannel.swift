import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import Relay

/// A Hummingbird child channel that puts a TLS server handler in front of `Base` (here the
/// relay's ``EngineHTTPChannel``), with the context ``TLSCertificates`` holds at accept time.
///
/// HummingbirdTLS's `TLSChannel` does the same with a context fixed at start; taking it from the
/// store per connection is what lets SIGHUP swap certificates without touching open connections.
/// Everything `Base` adds (HTTP codec, the WebSocket upgrade, ``KeepAliveUpgradeHandler`` and the
/// WebSocket transport) goes after the TLS handler, so upgrades work the same over TLS.
struct TLSServerChannel<Base: ServerChildChannel & HTTPChannelHandler>: ServerChildChannel, HTTPChannelHandler {
    typealias Value = Base.Value
    let base: Base
    let certificates: TLSCertificates

    var responder: HTTPChannelHandler.Responder { base.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = certificates.current
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 over TLS with the relay's WebSocket transport; certificates from `certificates`.
    static func https1(relay: Relay, certificates: TLSCertificates) -> HTTPServerBuilder {
        .init { responder in
            TLSServerChannel(base: EngineHTTPChannel(engines: [relay.engine], responder: responder), certificates: certificates)
        }
    }
}
