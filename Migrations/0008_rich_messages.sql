-- Rich messages (issue 15): deletes leave a tombstone, reactions are rows. The same SQL
-- serves SQLite and PostgreSQL. messages.edited_at and messages.reply_to exist since 0003.

-- A deleted message keeps its id and place in the history; its body is blanked ('') in the
-- same statement that sets deleted_at (milliseconds since the epoch), so no text stays at rest.
ALTER TABLE messages ADD COLUMN deleted_at BIGINT;

-- One row per user per emoji per message. The primary key is the uniqueness rule and serves
-- the per-message counts (history) and the who-reacted list; reactions_user serves a user's
-- removal. Rows go with their message's tombstone (deleted by the delete) and with the
-- message's room (cascade through messages).
CREATE TABLE reactions (
    message_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    emoji TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
CREATE INDEX reactions_user ON reactions(user_id);
