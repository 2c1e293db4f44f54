import HTTPTypes

/// What a namespace's connection middleware sees of a connecting client.
public struct Handshake: Sendable {
    /// The CONNECT packet's payload (`auth` in the JavaScript client).
    public let auth: JSONValue?
    public let headers: HTTPFields
    /// The handshake request's query parameters.
    public var query: [String: String] { EngineRequest.parameters(of: uri) }
    let uri: String
    public let remoteAddress: String?
    /// The namespace being joined.
    public let namespace: String
    /// The Engine.IO session id.
    public let engineSid: String
}

/// Thrown by connection middleware to refuse a connection: the client receives a
/// CONNECT_ERROR packet `{"message": …, "data": …}`.
public struct ConnectError: Error, Sendable, Hashable {
    public var message: String
    public var data: JSONValue?

    public init(message: String, data: JSONValue? = nil) {
        self.message = message
        self.data = data
    }

    var payload: JSONValue {
        var o: [String: JSONValue] = ["message": .string(message)]
        if let data { o["data"] = data }
        return .object(o)
    }
}

/// Why a socket left its namespace. Raw values are Socket.IO's reason strings.
public enum DisconnectReason: String, Sendable, Hashable {
    case transportClose = "transport close"
    case transportError = "transport error"
    case pingTimeout = "ping timeout"
    case parseError = "parse error"
    case forcedClose = "forced close"
    case serverShuttingDown = "server shutting down"
    /// The server called `disconnect()` on the socket.
    case serverNamespaceDisconnect = "server namespace disconnect"
    /// The client disconnected from the namespace (DISCONNECT packet).
    case clientNamespaceDisconnect = "client namespace disconnect"
    /// The connection could not keep up with its outbound traffic.
    case slowConsumer = "slow consumer"

    init(_ reason: EngineCloseReason) {
        switch reason {
        case .transportClose: self = .transportClose
        case .transportError: self = .transportError
        case .pingTimeout: self = .pingTimeout
        case .parseError: self = .parseError
        case .forcedClose: self = .forcedClose
        case .slowConsumer: self = .slowConsumer
        case .serverShutdown: self = .serverShuttingDown
        }
    }
}

/// Errors of server→client acknowledgements.
public struct AckError: Error, Sendable, Hashable {
    enum Kind: Sendable, Hashable { case timeout, disconnected }
    let kind: Kind
    /// No acknowledgement within the timeout.
    public static let timeout = AckError(kind: .timeout)
    /// The socket disconnected before acknowledging.
    public static let disconnected = AckError(kind: .disconnected)
}
