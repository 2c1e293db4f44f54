import Foundation
import Hummingbird
import Models

/// ISO-8601 with milliseconds, UTC: the one way times appear on the wire
/// (`2026-11-21T10:00:00.000Z`). Formatted by hand from the civil date: Foundation's
/// ISO-8601 FormatStyle costs tens of microseconds a call on Linux, which showed up as
/// most of `GET /api/rooms` (three timestamps per room).
public enum WireTime {
    public static func string(_ date: Date) -> String {
        string(millis: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    public static func string(millis: Int64) -> String {
        let (days, msOfDay) = millis.floorDivided(by: 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        let hour = msOfDay / 3_600_000, minute = msOfDay / 60_000 % 60, second = msOfDay / 1000 % 60, ms = msOfDay % 1000
        var bytes = [UInt8]()
        bytes.reserveCapacity(24)
        func digits(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var v = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(v / divisor % 10))
                v %= divisor
                divisor /= 10
            }
        }
        digits(year, 4); bytes.append(UInt8(ascii: "-")); digits(month, 2); bytes.append(UInt8(ascii: "-")); digits(day, 2)
        bytes.append(UInt8(ascii: "T")); digits(hour, 2); bytes.append(UInt8(ascii: ":")); digits(minute, 2)
        bytes.append(UInt8(ascii: ":")); digits(second, 2); bytes.append(UInt8(ascii: ".")); digits(ms, 3); bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
    /// (Howard Hinnant's days_from_civil inverse, a published public-domain algorithm).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    func floorDivided(by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let q = self >= 0 ? self / divisor : (self - divisor + 1) / divisor
        return (q, self - q * divisor)
    }
}

/// A user as the owner sees themself.
public struct MeResponse: ResponseEncodable, Sendable {
    public let id: Int64
    public let email: String
    public let username: String
    public let displayName: String
    public let emailVerified: Bool
    public let createdAt: String
    /// `true` for a guest (whose `email` is a placeholder that is never mailed); absent otherwise.
    public let guest: Bool?
    /// `admin` for a server administrator; absent otherwise.
    public let serverRole: String?

    public init(_ user: UserRecord) {
        id = user.id
        email = user.email
        username = user.username
        displayName = user.displayName
        emailVerified = user.isEmailVerified
        createdAt = WireTime.string(millis: user.createdAt)
        guest = user.isGuest ? true : nil
        serverRole = user.isAdmin ? ServerRole.admin.rawValue : nil
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
    public mutating func decodeJSON<T: Decodable>(_ type: T.Type, context: some RequestContext) async throws -> T {
        do {
            return try await decode(as: type, context: context)
        } catch let error as APIError {
            throw error
        } catch let error as ServiceError {
            throw error
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            // Hummingbird's body limit (NIOTooManyBytesError) or an HTTPError(.contentTooLarge).
            throw APIError.payloadTooLarge
        } catch {
            throw APIError.invalidJSON
        }
    }
}
