import Foundation

/// Settings of the email flows; defaults follow the numbers.
public struct EmailSettings: Sendable {
    /// The public base URL every link is built from (never a request's Host header).
    public var publicURL: String
    /// The `From` of every mail, e.g. `Switchboard <no-reply@example.com>`.
    public var mailFrom: String
    public var productName = "Switchboard"
    public var verificationTokenLifetime: Duration = .seconds(24 * 3600)
    public var resetTokenLifetime: Duration = .seconds(3600)
    /// Resending the verification mail: once a minute…
    public var resendPerMinuteRule = ThrottleRule(limit: 1, ratePerSecond: 1.0 / 60)
    /// …and five a day.
    public var resendPerDayRule = ThrottleRule(limit: 5, ratePerSecond: 5.0 / 86_400)
    /// forgot-password per client IP: 10 free, then one every 6 minutes (over it: 429).
    public var forgotPerIPRule = ThrottleRule(limit: 10, ratePerSecond: 1.0 / 360)
    /// Checking a reset link without using it (the reset page does it when it opens), per
    /// client IP: 30 free, then one a minute (over it: 429).
    public var linkCheckPerIPRule = ThrottleRule(limit: 30, ratePerSecond: 1.0 / 60)
    /// forgot-password per address: 3 an hour (over it: the same 202, but no mail).
    public var forgotPerAddressRule = ThrottleRule(limit: 3, ratePerSecond: 3.0 / 3600)
    /// "Someone tried to register with your address" notices per address: 3 a day.
    public var registrationNoticeRule = ThrottleRule(limit: 3, ratePerSecond: 3.0 / 86_400)

    public init(publicURL: String, mailFrom: String) {
        var url = publicURL
        while url.hasSuffix("/") { url.removeLast() }
        self.publicURL = url
        self.mailFrom = mailFrom
    }

    /// `{PUBLIC_URL}/verify-email?token=…`
    public func verificationLink(token: String) -> URL { link("/verify-email", token: token) }
    /// `{PUBLIC_URL}/reset-password?token=…`
    public func resetLink(token: String) -> URL { link("/reset-password", token: token) }
    /// `{PUBLIC_URL}/forgot-password`: where a reset is requested (no token).
    public var resetPageLink: URL { link("/forgot-password", token: nil) }
    /// `{PUBLIC_URL}/login`
    public var signInLink: URL { link("/login", token: nil) }

    private func link(_ path: String, token: String?) -> URL {
        var components = URLComponents(string: publicURL + path)!
        if let token { components.queryItems = [URLQueryItem(name: "token", value: token)] }
        return components.url!
    }
}
