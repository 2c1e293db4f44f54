import Accounts
import Foundation
import Testing
@testable import Server

@Suite("Sign-in provider configuration")
struct OAuthConfigurationTests {
    @Test("OAUTH_PROVIDERS with a GitHub preset and an OpenID Connect issuer")
    func providers() async throws {
        let config = try await AppConfiguration.load(arguments: [], environment: [
            "OAUTH_PROVIDERS": "github, my_sso",
            "OAUTH_GITHUB_PRESET": "github", "OAUTH_GITHUB_CLIENT_ID": "gh-id", "OAUTH_GITHUB_CLIENT_SECRET": "gh-secret",
            "OAUTH_GITHUB_API_URL": "http://127.0.0.1:9/",
            "OAUTH_MY_SSO_ISSUER": "https://sso.example/realms/chat", "OAUTH_MY_SSO_CLIENT_ID": "sb", "OAUTH_MY_SSO_CLIENT_SECRET": "s",
            "OAUTH_MY_SSO_DISPLAY_NAME": "Example SSO", "OAUTH_MY_SSO_SCOPES": "openid email",
        ])
        #expect(config.oauthProviders.map(\.name) == ["github", "my_sso"])
        let github = config.oauthProviders[0]
        #expect(github.displayName == "GitHub" && github.clientID == "gh-id" && github.clientSecret == "gh-secret")
        #expect(github.kind == .github(GitHubEndpoints(apiURL: "http://127.0.0.1:9")))
        #expect(github.scopes == ["read:user", "user:email"])
        let sso = config.oauthProviders[1]
        #expect(sso.kind == .openIDConnect(issuer: "https://sso.example/realms/chat"))
        #expect(sso.displayName == "Example SSO" && sso.scopes == ["openid", "email"])
        #expect(try await AppConfiguration.load(arguments: [], environment: [:]).oauthProviders.isEmpty)
    }

    @Test("every missing or bad provider key is reported at once")
    func problems() async throws {
        do {
            _ = try await AppConfiguration.load(arguments: [], environment: [
                "OAUTH_PROVIDERS": "a,b,c,d,Bad-Name,a",
                "OAUTH_A_PRESET": "gitlab",
                "OAUTH_B_PRESET": "github", "OAUTH_B_ISSUER": "https://x.example", "OAUTH_B_CLIENT_ID": "x", "OAUTH_B_CLIENT_SECRET": "y",
                "OAUTH_C_ISSUER": "not a url", "OAUTH_C_CLIENT_ID": "x", "OAUTH_C_CLIENT_SECRET": "y",
                "OAUTH_D_CLIENT_ID": "x", "OAUTH_D_CLIENT_SECRET": "y",
            ])
            Issue.record("expected a configuration error")
        } catch let error as ConfigurationError {
            let keys = Set(error.problems.map(\.key))
            #expect(keys.isSuperset(of: [
                "OAUTH_A_PRESET", "OAUTH_A_CLIENT_ID", "OAUTH_A_CLIENT_SECRET", "OAUTH_B_PRESET", "OAUTH_C_ISSUER", "OAUTH_D_ISSUER", "OAUTH_PROVIDERS",
            ]))
            #expect(!error.description.contains("y\n"))
        }
    }

    @Test("production needs https issuers")
    func productionIssuer() async throws {
        do {
            _ = try await AppConfiguration.load(arguments: [], environment: [
                "ENVIRONMENT": "production", "JWT_SECRET": String(repeating: "k", count: 40), "RESEND_API_KEY": "re_x",
                "OAUTH_PROVIDERS": "kc", "OAUTH_KC_ISSUER": "http://sso.example", "OAUTH_KC_CLIENT_ID": "x", "OAUTH_KC_CLIENT_SECRET": "y",
            ])
            Issue.record("expected a configuration error")
        } catch let error as ConfigurationError {
            #expect(error.problems.map(\.key).contains("OAUTH_KC_ISSUER"))
        }
    }
}
