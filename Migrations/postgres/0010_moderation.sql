-- Moderation (issue 16): room roles owner > admin > moderator > member > guest, mutes, bans and
-- a per-room audit log.
ALTER TABLE memberships DROP CONSTRAINT memberships_role_check;
ALTER TABLE memberships ADD CONSTRAINT memberships_role_check
    CHECK (role IN ('owner', 'admin', 'moderator', 'member', 'guest'));

-- One active or expired mute per member; times in ms since the epoch.
CREATE TABLE room_mutes (
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    muted_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    reason TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

CREATE TABLE room_bans (
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    banned_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    reason TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

CREATE TABLE room_audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    actor_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    action TEXT NOT NULL CHECK (action IN ('role', 'kick', 'mute', 'unmute', 'ban', 'unban')),
    target_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    role TEXT,
    reason TEXT,
    expires_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX room_audit_log_room ON room_audit_log(room_id, id);
