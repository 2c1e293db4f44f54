import Foundation

/// The guest settings (issue 16), read with the rest of ``AppConfiguration``.
public struct GuestConfiguration: Sendable {
    /// `GUEST_SESSION_LIFETIME` (seconds, 60-604800, default 14400 = 4 h): a guest's one session
    /// ends this long after `POST /api/auth/guest`, whatever its activity, and the guest is
    /// removed by the next sweep after that.
    public var sessionLifetime: Duration = .seconds(4 * 3600)
    /// `GUESTS_PER_IP_PER_HOUR` (1-1000000, default 10): guest sessions one client address may
    /// start per hour (a burst of this many, then refilling; the leaky bucket of logins).
    public var perIPPerHour: Int = 10
    /// How often expired guests are swept. Not a configuration key: tests shorten it.
    public var sweepInterval: Duration = .seconds(60)

    public init() {}

    static func read(string: (String) -> String?, problems: inout [(String, String)]) -> GuestConfiguration {
        var config = GuestConfiguration()
        if let raw = string("guest.session.lifetime") {
            if let seconds = Int(raw), (60...604_800).contains(seconds) { config.sessionLifetime = .seconds(seconds) } else {
                problems.append(("GUEST_SESSION_LIFETIME", "must be seconds from 60 to 604800, got '\(raw)'"))
            }
        }
        if let raw = string("guests.per.ip.per.hour") {
            if let value = Int(raw), (1...1_000_000).contains(value) { config.perIPPerHour = value } else {
                problems.append(("GUESTS_PER_IP_PER_HOUR", "must be an integer from 1 to 1000000, got '\(raw)'"))
            }
        }
        return config
    }
}
