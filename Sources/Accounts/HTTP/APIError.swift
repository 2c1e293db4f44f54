import Foundation
import HTTPTypes
import Hummingbird
import Models

/// The one error shape of the REST API:
/// `{"error":{"code":"stable_snake_case","message":"…","fields":{…}}}` (an ``ErrorBody``).
///
/// `code` is part of the API contract: a member of the ``ErrorCode`` catalogue (Models), which
/// also decides the HTTP status (``ErrorCode/httpStatus``); docs/openapi.yaml lists the codes.
/// `message` is for humans and may change. The realtime gateway maps the same value to a
/// failed ack (`{ok:false,error:{code,message,fields?}}`).
public struct APIError: Error, HTTPResponseError, Sendable {
    /// The catalogued code; its ``ErrorCode/httpStatus`` is ``status``.
    public let errorCode: ErrorCode
    public let message: String
    public let fields: [String: String]?
    /// Extra response headers (`Retry-After`, `Allow`, `Set-Cookie`).
    public let headers: HTTPFields

    public init(_ code: ErrorCode, message: String, fields: [String: String]? = nil, headers: HTTPFields = [:]) {
        self.errorCode = code
        self.message = message
        self.fields = fields
        self.headers = headers
    }

    /// The HTTP status, as the catalogue decides it for ``errorCode``.
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: errorCode.httpStatus) }

    /// The code as it travels (``ErrorCode/rawValue``).
    public var code: String { errorCode.rawValue }

    /// The wire `error` object, `{code, message, fields?, retryAfter?}` (`retryAfter`: the
    /// `Retry-After` header's seconds, when there is one).
    public var body: ErrorBody { ErrorBody(errorCode, message: message, fields: fields, retryAfter: headers[.retryAfter].flatMap { Int($0) }) }

    /// The HTTP answer to a domain error: its code, message and fields, and `Retry-After`
    /// when it has ``ServiceError/retryAfter``.
    public init(_ error: ServiceError) {
        var headers = HTTPFields()
        if let seconds = error.retryAfter { headers[.retryAfter] = String(seconds) }
        self.init(error.code, message: error.message, fields: error.fields, headers: headers)
    }

    /// The same error with `more` headers added.
    public func adding(headers more: HTTPFields) -> APIError {
        var headers = self.headers
        headers.append(contentsOf: more)
        return APIError(errorCode, message: message, fields: fields, headers: headers)
    }

    struct Body: Encodable {
        let error: ErrorBody
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try WireJSON.makeEncoder().encode(Body(error: body))
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension APIError {
    public static func validation(_ fields: [String: String]) -> APIError { APIError(.validation(fields)) }
    public static let invalidJSON = APIError(.invalidJSON, message: "The request body is not valid JSON for this endpoint.")
    public static let unauthorized = APIError(ServiceError.unauthorized)
    /// The access token is valid but its session has ended (the socket path uses the same code).
    public static let sessionRevoked = APIError(.sessionRevoked, message: "This session has ended; log in again.")
    public static let notFound = APIError(ServiceError.notFound)
    public static let payloadTooLarge = APIError(.payloadTooLarge, message: "The request body is too large.")
    public static let internalError = APIError(ServiceError.internalError)
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
        } catch let error as ServiceError {
            throw APIError(error)
        } catch is DecodingError {
            throw APIError.invalidJSON
        } catch let error as HTTPError {
            switch error.status {
            case .notFound: throw APIError.notFound
            case .contentTooLarge: throw APIError.payloadTooLarge
            case .badRequest: throw APIError(.badRequest, message: error.body ?? "Bad request.")
            case .unauthorized: throw APIError.unauthorized
            case .methodNotAllowed: throw APIError(.methodNotAllowed, message: "Method not allowed.")
            default:
                // No code of ours throws another status, nor does Hummingbird under /api; the
                // catalogue has no code for it, so it is a fault of ours.
                context.logger.error("unexpected HTTP error status", metadata: ["http.status": "\(error.status.code)"])
                throw APIError.internalError
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
