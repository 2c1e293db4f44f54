import Accounts
import Foundation
import Hummingbird
import Models
import Relay

/// The request context of every route: Hummingbird's core storage and the authenticated
/// identity. (WebSocket upgrades never reach the router: the relay's channel takes them.)
public struct AppRequestContext: RequestContext, IdentityRequestContext, RemoteAddressProviding, PeerAddressProviding {
    public var coreContext: CoreRequestContextStorage
    public var identity: AccessIdentity?
    /// The socket's peer address (a reverse proxy's, behind one).
    public let peerAddress: String?
    /// The client address rate limits, sessions and logs use: the peer address, or what a
    /// trusted proxy forwarded (set by ``ClientAddressMiddleware`` from `TRUSTED_PROXIES`).
    public var remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = nil
        self.peerAddress = source.channel.remoteAddress?.ipAddress
        self.remoteAddress = peerAddress
    }

    /// JSON bodies of the API are small (a 4000-character message is < 20 KB); the relay's
    /// long-polling POSTs are capped separately by its maxPayload.
    public var maxUploadSize: Int { 256 * 1024 }

    /// Sorted keys: identical answers are byte-identical (``WireJSON``).
    public var responseEncoder: JSONEncoder { WireJSON.makeEncoder() }
}
