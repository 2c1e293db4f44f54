import Foundation

/// The operations settings: TLS, metrics, trusted proxies and the shutdown drain
/// (README's configuration table, docs/DEPLOYMENT.md).
public struct OpsConfiguration: Sendable {
    /// `TLS_CERT_FILE` + `TLS_KEY_FILE` (PEM; the certificate file may hold the chain, leaf
    /// first): serve HTTPS and WSS directly, re-read on SIGHUP. nil: plain HTTP.
    public var tls: TLSFiles?
    /// `METRICS_TOKEN`: `/metrics` requires `Authorization: Bearer <token>`.
    public var metricsToken: String?
    /// `METRICS_PORT`: `/metrics` is served on this port (on `HOST`) instead of the main one.
    /// 0 picks a free port (tests).
    public var metricsPort: Int?
    /// Whether `/metrics` is served at all: in development always; in production only with
    /// `METRICS_TOKEN` or `METRICS_PORT` (an operator chose who can read it).
    public var metricsEnabled: Bool
    /// `TRUSTED_PROXIES`: comma-separated CIDRs whose forwarding header is believed;
    /// `TRUSTED_PROXY_HEADER` (`x-forwarded-for`, the default, or `forwarded`): which one.
    public var trustedProxies: TrustedProxies
    /// `DRAIN_DELAY` (seconds, 0-300; default 0 in development, 5 in production): after SIGTERM,
    /// how long `/ready` answers 503 while the node still serves, before it stops accepting.
    public var drainDelay: Duration

    public struct TLSFiles: Sendable, Equatable {
        public var certificateFile: String
        public var privateKeyFile: String
        public init(certificateFile: String, privateKeyFile: String) {
            self.certificateFile = certificateFile
            self.privateKeyFile = privateKeyFile
        }
    }

    public init(
        tls: TLSFiles? = nil, metricsToken: String? = nil, metricsPort: Int? = nil, metricsEnabled: Bool = true,
        trustedProxies: TrustedProxies = .none, drainDelay: Duration = .zero
    ) {
        self.tls = tls
        self.metricsToken = metricsToken
        self.metricsPort = metricsPort
        self.metricsEnabled = metricsEnabled
        self.trustedProxies = trustedProxies
        self.drainDelay = drainDelay
    }

    /// Reads the keys through `string` / `secret` (config key → value), appending every problem.
    static func read(
        string: (String) -> String?, secret: (String) -> String?, isProduction: Bool, problems: inout [(String, String)]
    ) -> OpsConfiguration {
        var ops = OpsConfiguration()
        switch (string("tls.cert.file"), string("tls.key.file")) {
        case (let cert?, let key?):
            ops.tls = TLSFiles(certificateFile: cert, privateKeyFile: key)
            for (name, path) in [("TLS_CERT_FILE", cert), ("TLS_KEY_FILE", key)] where !FileManager.default.isReadableFile(atPath: path) {
                problems.append((name, "cannot read '\(path)'"))
            }
        case (nil, nil): break
        case (nil, _): problems.append(("TLS_CERT_FILE", "is required with TLS_KEY_FILE"))
        case (_, nil): problems.append(("TLS_KEY_FILE", "is required with TLS_CERT_FILE"))
        }
        ops.metricsToken = secret("metrics.token")
        if let token = ops.metricsToken, token.utf8.count < 16 {
            problems.append(("METRICS_TOKEN", "must be at least 16 bytes"))
        }
        if let raw = string("metrics.port") {
            if let port = Int(raw), (0...65535).contains(port) { ops.metricsPort = port } else {
                problems.append(("METRICS_PORT", "must be an integer 0-65535, got '\(raw)'"))
            }
        }
        ops.metricsEnabled = !isProduction || ops.metricsToken != nil || ops.metricsPort != nil
        if let raw = string("trusted.proxies") {
            do { ops.trustedProxies = try TrustedProxies(parsing: raw) } catch {
                problems.append(("TRUSTED_PROXIES", "\(error)"))
            }
        }
        if let raw = string("trusted.proxy.header") {
            if let header = TrustedProxies.Header(rawValue: raw.lowercased()) { ops.trustedProxies.header = header } else {
                problems.append(("TRUSTED_PROXY_HEADER", "must be 'x-forwarded-for' or 'forwarded', got '\(raw)'"))
            }
        }
        ops.drainDelay = isProduction ? .seconds(5) : .zero
        if let raw = string("drain.delay") {
            if let seconds = Double(raw), seconds >= 0, seconds <= 300 { ops.drainDelay = .milliseconds(Int64(seconds * 1000)) } else {
                problems.append(("DRAIN_DELAY", "must be seconds from 0 to 300, got '\(raw)'"))
            }
        }
        return ops
    }
}
