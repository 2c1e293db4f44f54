-- Mentions and full-text search (issue 15).
--
-- message_mentions: one row per (message, mentioned member), written in the send's transaction
-- (MentionStore). mentionCount = my rows in a room after my read cursor, read through
-- message_mentions_user (user, room, message).
CREATE TABLE message_mentions (
    message_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_mentions_user ON message_mentions(user_id, room_id, message_id);

-- Full-text search: an FTS5 external-content table over messages.body (the text is stored once,
-- in messages), kept in step by triggers on every insert, body update (edits, tombstones) and
-- delete. unicode61 folds case and, with remove_diacritics 2, diacritics.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
END;

-- An edit or a tombstone rewrites the body: its old mentions go (an edit records the new ones
-- after its UPDATE, MentionStore.replace), so a deleted message never counts as a mention.
CREATE TRIGGER message_mentions_body_update AFTER UPDATE OF body ON messages BEGIN
    DELETE FROM message_mentions WHERE message_id = new.id;
END;
