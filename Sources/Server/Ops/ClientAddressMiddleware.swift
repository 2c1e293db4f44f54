import Hummingbird

/// Router-wide, first: sets ``AppRequestContext/remoteAddress`` (the client address every rate
/// limit, session record and log line uses) from the peer address and, only when the peer is one
/// of `TRUSTED_PROXIES`, its forwarding headers (``TrustedProxies``). The relay resolves its
/// handshakes' addresses with the same function (``relayConfiguration(_:recovery:)``).
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let proxies: TrustedProxies

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        var context = context
        context.remoteAddress = proxies.clientAddress(peer: context.peerAddress, headers: request.headers)
        if let address = context.remoteAddress { context.logger[metadataKey: "client.address"] = .string(address) }
        return try await next(request, context)
    }
}
