-- Unread counts scan a room's messages after the read cursor and skip the reader's own:
-- with author_id in the index the scan never touches the table rows.
CREATE INDEX messages_room_id_author ON messages(room_id, id, author_id);
DROP INDEX messages_room_id;
