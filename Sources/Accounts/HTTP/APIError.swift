import Foundation
import HTTPTypes
import Hummingbird
import Models

/// The one error shape of the REST API:
/// `{"error":{"code":"stable_snake_case","message":"…","fields":{…}}}`.
///
/// `code` is part of the API contract (docs/openapi.yaml lists them); `message`
/// is for humans and may change.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let fields: [String: String]?
    public let headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, message: String, fields: [String: String]? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers
    }

    struct Body: Encodable {
        struct Inner: Encodable {
            let code: String
            let message: String
            let fields: [String: String]?
        }
        let error: Inner
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try WireJSON.makeEncoder().encode(Body(error: .init(code: code, message: message, fields: fields)))
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension APIError {
    public static func validation(_ fields: [String: String]) -> APIError {
        APIError(.unprocessableContent, code: "validation_failed", message: "Some fields are invalid.", fields: fields)
    }
    public static let invalidJSON = APIError(.badRequest, code: "invalid_json", message: "The request body is not valid JSON for this endpoint.")
    public static let unauthorized = APIError(.unauthorized, code: "unauthorized", message: "Authentication required.")
    /// The access token is valid but its session has ended (the socket path uses the same code).
    public static let sessionRevoked = APIError(.unauthorized, code: "session_revoked", message: "This session has ended; log in again.")
    public static let notFound = APIError(.notFound, code: "not_found", message: "No such resource.")
    public static let payloadTooLarge = APIError(.contentTooLarge, code: "payload_too_large", message: "The request body is too large.")
    public static let internalError = APIError(.internalServerError, code: "internal_error", message: "Something went wrong on our side.")
    public static func tooManyRequests(code: String = "too_many_attempts", retryAfter seconds: Int) -> APIError {
        var headers = HTTPFields()
        headers[.retryAfter] = String(max(1, seconds))
        return APIError(.tooManyRequests, code: code, message: "Too many attempts. Try again in \(max(1, seconds)) seconds.", headers: headers)
    }
}

/// Turns every error leaving an `/api` handler into the ``APIError`` shape (the overload
/// of a bounded resource into 503 `server_busy`, ``APIError/overload(from:)``), and
/// logs unexpected ones (type only: error descriptions may carry user input).
public struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch is DecodingError {
            throw APIError.invalidJSON
        } catch let error as HTTPError {
            switch error.status {
            case .notFound: throw APIError.notFound
            case .contentTooLarge: throw APIError.payloadTooLarge
            case .badRequest: throw APIError(.badRequest, code: "bad_request", message: error.body ?? "Bad request.")
            case .unauthorized: throw APIError.unauthorized
            case .methodNotAllowed: throw APIError(.methodNotAllowed, code: "method_not_allowed", message: "Method not allowed.")
            default: throw APIError(error.status, code: "http_\(error.status.code)", message: error.body ?? error.status.reasonPhrase)
            }
        } catch {
            if let busy = APIError.overload(from: error) {
                context.logger.info("overloaded; shedding load", metadata: ["error.type": "\(String(reflecting: type(of: error)))"])
                throw busy
            }
            context.logger.error("unhandled error", metadata: ["error.type": "\(String(reflecting: type(of: error)))"])
            throw APIError.internalError
        }
    }
}
