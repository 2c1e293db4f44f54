/// Settings of ``ResendMailSender``. Its descriptions never show the API key.
public struct ResendConfiguration: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The API key (`re_...`), sent as `Authorization: Bearer <key>`.
    public var apiKey: String
    /// The API's base URL, without `/emails`.
    public var baseURL: String
    /// The deadline of one call: connecting, sending and reading the whole
    /// response.
    public var timeout: Duration
    /// The largest response body read; a longer one fails the call.
    public var maxResponseBytes: Int
    /// A PEM file of CA certificates trusted in addition to the system's
    /// trust store (a test server, a corporate proxy).
    public var additionalTrustedCAFile: String?
    public var userAgent: String

    public static let defaultBaseURL = "https://api.resend.com"

    public init(
        apiKey: String,
        baseURL: String = ResendConfiguration.defaultBaseURL,
        timeout: Duration = .seconds(15),
        maxResponseBytes: Int = 64 * 1024,
        additionalTrustedCAFile: String? = nil,
        userAgent: String = "switchboard"
    ) {
        self.apiKey = apiKey
        self.baseURL = baseURL
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
        self.additionalTrustedCAFile = additionalTrustedCAFile
        self.userAgent = userAgent
    }

    public var description: String {
        "ResendConfiguration(apiKey: <redacted>, baseURL: \(self.baseURL), timeout: \(self.timeout), "
            + "maxResponseBytes: \(self.maxResponseBytes), "
            + "additionalTrustedCAFile: \(self.additionalTrustedCAFile ?? "none"), userAgent: \(self.userAgent))"
    }

    public var debugDescription: String { self.description }

    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "apiKey": "<redacted>",
                "baseURL": self.baseURL,
                "timeout": self.timeout,
                "maxResponseBytes": self.maxResponseBytes,
                "additionalTrustedCAFile": self.additionalTrustedCAFile as Any,
                "userAgent": self.userAgent,
            ]
        )
    }
}
