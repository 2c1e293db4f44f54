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

-- Full-text search: a GIN index over the expression to_tsvector('simple', body) (the 'simple'
-- configuration lowercases and splits words, no stemming and no stop words, so every language is
-- searched alike). The index follows every insert, edit and tombstone by itself; queries must
-- spell the same expression (MessageSearchStore).
CREATE INDEX messages_body_fts ON messages USING GIN (to_tsvector('simple', body));

-- An edit or a tombstone rewrites the body: its old mentions go (an edit records the new ones
-- after its UPDATE, MentionStore.replace), so a deleted message never counts as a mention.
CREATE FUNCTION message_mentions_body_update() RETURNS trigger LANGUAGE plpgsql AS
    'BEGIN DELETE FROM message_mentions WHERE message_id = NEW.id; RETURN NULL; END';
CREATE TRIGGER message_mentions_body_update AFTER UPDATE OF body ON messages
    FOR EACH ROW EXECUTE FUNCTION message_mentions_body_update();
