import Accounts
import Configuration
import Foundation

/// The sign-in providers of `OAUTH_PROVIDERS` (docs/DEPLOYMENT.md, "Sign in with a provider").
///
/// `OAUTH_PROVIDERS` lists the names, comma-separated (`github,keycloak`; each 1-32 of
/// `[a-z0-9_]`, starting with a letter). For each name, in upper case:
/// - `OAUTH_<NAME>_CLIENT_ID`, `OAUTH_<NAME>_CLIENT_SECRET` (required; the secret is read
///   as a secret and never logged);
/// - exactly one of `OAUTH_<NAME>_PRESET=github` and `OAUTH_<NAME>_ISSUER=<URL>` (an OpenID
///   Connect issuer; https required in production);
/// - optional `OAUTH_<NAME>_DISPLAY_NAME` (the button label; default "GitHub" for the preset,
///   else the name capitalized), `OAUTH_<NAME>_SCOPES` (space-separated);
/// - GitHub only, optional: `OAUTH_<NAME>_AUTHORIZE_URL`, `_TOKEN_URL`, `_API_URL` (GitHub
///   Enterprise Server, tests).
enum OAuthConfiguration {
    static func load(
        from reader: ConfigReader, production: Bool, problems: inout [(String, String)]
    ) -> [OAuthProvider] {
        func value(_ components: [String], secret: Bool = false) -> String? {
            reader.string(forKey: ConfigKey(components), isSecret: secret).flatMap { $0.isEmpty ? nil : $0 }
        }
        guard let list = value(["oauth", "providers"]) else { return [] }
        var providers: [OAuthProvider] = []
        for raw in list.split(separator: ",") {
            let name = raw.trimmingCharacters(in: .whitespaces).lowercased()
            let env = "OAUTH_\(name.uppercased())"
            guard OAuthProvider.isValidName(name) else {
                problems.append(("OAUTH_PROVIDERS", "'\(name)' is not a provider name (1-32 of a-z, 0-9, _; starting with a letter)"))
                continue
            }
            guard !providers.contains(where: { $0.name == name }) else {
                problems.append(("OAUTH_PROVIDERS", "'\(name)' is listed twice"))
                continue
            }
            let key = ["oauth"] + name.split(separator: "_").map(String.init)
            let clientID = value(key + ["client", "id"])
            let clientSecret = value(key + ["client", "secret"], secret: true)
            if clientID == nil { problems.append(("\(env)_CLIENT_ID", "is required for provider '\(name)'")) }
            if clientSecret == nil { problems.append(("\(env)_CLIENT_SECRET", "is required for provider '\(name)'")) }
            let preset = value(key + ["preset"])?.lowercased()
            let issuer = value(key + ["issuer"])
            var kind: OAuthProvider.Kind?
            switch (preset, issuer) {
            case ("github"?, nil):
                var endpoints = GitHubEndpoints()
                for (suffix, path) in [("AUTHORIZE_URL", \GitHubEndpoints.authorizeURL), ("TOKEN_URL", \.tokenURL), ("API_URL", \.apiURL)] {
                    guard let url = value(key + suffix.lowercased().split(separator: "_").map(String.init)) else { continue }
                    if isHTTPURL(url) { endpoints[keyPath: path] = url.trimmingSuffix("/") } else {
                        problems.append(("\(env)_\(suffix)", "must be an absolute http(s) URL"))
                    }
                }
                kind = .github(endpoints)
            case (nil, let issuer?):
                if !isHTTPURL(issuer) || (production && !issuer.hasPrefix("https://")) {
                    problems.append(("\(env)_ISSUER", production ? "must be an absolute https URL" : "must be an absolute http(s) URL"))
                } else {
                    kind = .openIDConnect(issuer: issuer)
                }
            case (let preset?, nil):
                problems.append(("\(env)_PRESET", "must be github, got '\(preset)'"))
            case (_?, _?):
                problems.append(("\(env)_PRESET", "and \(env)_ISSUER exclude each other"))
            case (nil, nil):
                problems.append(("\(env)_ISSUER", "or \(env)_PRESET=github is required for provider '\(name)'"))
            }
            guard let kind, let clientID, let clientSecret else { continue }
            let defaultLabel = preset == "github" ? "GitHub" : name.prefix(1).uppercased() + name.dropFirst()
            let scopes = value(key + ["scopes"])?.split(separator: " ").map(String.init)
            providers.append(OAuthProvider(
                name: name, displayName: value(key + ["display", "name"]) ?? defaultLabel, clientID: clientID,
                clientSecret: clientSecret, kind: kind, scopes: scopes
            ))
        }
        return providers
    }

    private static func isHTTPURL(_ raw: String) -> Bool {
        guard let url = URL(string: raw), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else { return false }
        return true
    }
}
