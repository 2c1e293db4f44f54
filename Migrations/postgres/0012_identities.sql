-- Sign-in identities (issue 17): a user's accounts at OAuth 2.0 / OpenID Connect providers,
-- the server side of flows in progress, and the one-time codes that hand a finished sign-in
-- to the web app. Every secret is stored as its SHA-256 (hex) only, except the PKCE
-- verifier and nonce, which the token request and ID-token check need and which are worthless
-- without the authorization code the provider sends to the browser.
-- An account created by a provider has no usable password: users.password_hash holds the
-- documented marker '!no-password' (UserRecord.noPasswordMarker), which no scrypt PHC string
-- equals and which password verification refuses; a password reset replaces it.
CREATE TABLE identities (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (provider, subject)
);
CREATE INDEX identities_user_id ON identities(user_id);

CREATE TABLE oauth_flows (
    state_hash TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    provider TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    link_user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oauth_flows_expires_at ON oauth_flows(expires_at);

CREATE TABLE oauth_handoffs (
    code_hash TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
