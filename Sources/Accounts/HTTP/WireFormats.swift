import Foundation
import Hummingbird

/// ISO-8601 with milliseconds, UTC: the one way times appear on the wire.
public enum WireTime {
    public static func string(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
            .replacingOccurrences(of: "+0000", with: "Z")
    }
    public static func string(millis: Int64) -> String { string(Date(millis: millis)) }
}

/// A user as the owner sees themself.
public struct MeResponse: ResponseEncodable, Sendable {
    public let id: Int64
    public let email: String
    public let username: String
    public let displayName: String
    public let emailVerified: Bool
    public let createdAt: String

    public init(_ user: UserRecord) {
        id = user.id
        email = user.email
        username = user.username
        displayName = user.displayName
        emailVerified = user.isEmailVerified
        createdAt = WireTime.string(millis: user.createdAt)
    }
}

extension Request {
    /// The client address: the socket peer (X-Forwarded-For is not trusted by default).
    func clientInfo(context: some RequestContext) -> ClientInfo {
        var ip: String?
        if let remote = (context as? any RemoteAddressProviding)?.remoteAddress {
            ip = remote
        }
        return ClientInfo(ip: ip, userAgent: headers[.userAgent])
    }
}

/// Contexts that know the peer address.
public protocol RemoteAddressProviding {
    var remoteAddress: String? { get }
}

/// Decodes a JSON body into `T`, mapping failures to `invalid_json` / `payload_too_large`.
extension Request {
    mutating func decodeJSON<T: Decodable>(_ type: T.Type, context: some RequestContext) async throws -> T {
        do {
            return try await decode(as: type, context: context)
        } catch let error as APIError {
            throw error
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            // Hummingbird's body limit (NIOTooManyBytesError) or an HTTPError(.contentTooLarge).
            throw APIError.payloadTooLarge
        } catch {
            throw APIError.invalidJSON
        }
    }
}
