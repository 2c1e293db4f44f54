import Accounts
import Hummingbird
import HummingbirdWebSocket

/// The request context of every route: Hummingbird's core storage, the WebSocket
/// handler slot the relay's upgrade route fills, and the authenticated identity.
public struct AppRequestContext: RequestContext, WebSocketRequestContext, IdentityRequestContext, RemoteAddressProviding {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public var identity: AccessIdentity?
    public let remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.identity = nil
        self.remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// JSON bodies of the API are small (a 4000-character message is < 20 KB); the relay's
    /// long-polling POSTs are capped separately by its maxPayload.
    public var maxUploadSize: Int { 256 * 1024 }
}
