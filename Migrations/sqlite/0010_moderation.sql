-- Moderation (issue 16): room roles owner > admin > moderator > member > guest, mutes, bans and
-- a per-room audit log.
--
-- SQLite cannot change a CHECK constraint in place, so memberships is rebuilt with every column
-- and index it had (0003); no other table's foreign key references it, so dropping and renaming
-- it inside this migration's transaction leaves every reference intact.
CREATE TABLE memberships_0010 (
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'moderator', 'member', 'guest')),
    joined_at BIGINT NOT NULL,
    last_read_message_id BIGINT NOT NULL DEFAULT 0,
    last_read_at BIGINT,
    PRIMARY KEY (room_id, user_id)
);
INSERT INTO memberships_0010 (room_id, user_id, role, joined_at, last_read_message_id, last_read_at)
    SELECT room_id, user_id, role, joined_at, last_read_message_id, last_read_at FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_0010 RENAME TO memberships;
CREATE INDEX memberships_user ON memberships(user_id);

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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
