-- Email flows: one-time verification/reset tokens and the transactional mail outbox.
-- Times are BIGINT milliseconds since the Unix epoch (the same in both dialects).
-- Ids are random text (UUIDs) made by the application, so the SQL is the same in both
-- dialects and an outbox id, used as the provider's Idempotency-Key, never repeats across
-- databases (a fresh database restarting a counter at 1 would collide with keys the
-- provider still remembers, and it would silently drop the new mail as a duplicate).

CREATE TABLE email_tokens (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    -- SHA-256 (hex) of the token; the token itself is only ever in the mail.
    token_hash TEXT NOT NULL UNIQUE,
    -- The address the token was mailed to: it proves control of that address only.
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    -- Set when a newer token of the same purpose replaced this one.
    superseded_at BIGINT
);
CREATE INDEX email_tokens_user_purpose ON email_tokens(user_id, purpose);

CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    sender TEXT NOT NULL,
    subject TEXT NOT NULL,
    html_body TEXT NOT NULL,
    text_body TEXT NOT NULL,
    -- What the mail is (verify_email, reset_password, password_changed, registration_attempt); sent as a tag.
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When the row is next due. While 'sending' it equals locked_until, so one index range
    -- finds both due mail and mail whose worker died (its lease ran out).
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    -- A random token per claim: only the claim that holds the lease may finish the row.
    locked_by TEXT,
    last_error TEXT,
    last_delay_ms BIGINT,
    provider_id TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt_at) WHERE status IN ('pending', 'sending');
