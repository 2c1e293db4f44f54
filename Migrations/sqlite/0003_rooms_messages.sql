-- Chat: rooms, memberships (with the last-read cursor) and messages.
CREATE TABLE rooms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('public', 'private', 'direct')),
    name TEXT,
    name_key TEXT,
    topic TEXT,
    password_hash TEXT,
    join_code TEXT UNIQUE,
    direct_key TEXT UNIQUE,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_message_id BIGINT,
    last_message_at BIGINT
);
CREATE UNIQUE INDEX rooms_public_name ON rooms(name_key) WHERE kind = 'public';

CREATE TABLE memberships (
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at BIGINT NOT NULL,
    last_read_message_id BIGINT NOT NULL DEFAULT 0,
    last_read_at BIGINT,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    author_id BIGINT NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    client_msg_id TEXT,
    reply_to BIGINT,
    created_at BIGINT NOT NULL,
    edited_at BIGINT
);
CREATE INDEX messages_room_id ON messages(room_id, id);
CREATE UNIQUE INDEX messages_client_id ON messages(room_id, author_id, client_msg_id);

ALTER TABLE users ADD COLUMN last_seen_at BIGINT;
