import HTTPTypes
import Hummingbird
import NIOCore

/// The HTTP error answers Node's engine.io gives: `{"code":N,"message":"…"}`.
public struct EngineHTTPError: Error, Sendable, Hashable {
    public let code: Int
    public let message: String
    public let status: HTTPResponse.Status

    public static let unknownTransport = EngineHTTPError(code: 0, message: "Transport unknown", status: .badRequest)
    public static let unknownSid = EngineHTTPError(code: 1, message: "Session ID unknown", status: .badRequest)
    public static let badHandshakeMethod = EngineHTTPError(code: 2, message: "Bad handshake method", status: .badRequest)
    public static let badRequest = EngineHTTPError(code: 3, message: "Bad request", status: .badRequest)
    public static let forbidden = EngineHTTPError(code: 4, message: "Forbidden", status: .forbidden)
    public static let unsupportedProtocolVersion = EngineHTTPError(code: 5, message: "Unsupported protocol version", status: .badRequest)
    /// POST body over maxPayload (Node answers 413 and closes the session).
    public static let payloadTooLarge = EngineHTTPError(code: 3, message: "Payload too large", status: .contentTooLarge)

    /// The JSON body Node sends.
    public var body: String { #"{"code":\#(code),"message":"\#(message)"}"# }

    func response(headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        let buffer = ByteBuffer(string: body)
        headers[.contentLength] = String(buffer.readableBytes)
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }
}
