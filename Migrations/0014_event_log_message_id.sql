-- The message a message:new / message:updated / message:deleted row of the event log reports
-- (NULL for other events): a delete or an edit rewrites that message's earlier rows in its own
-- transaction (EventLogStore.redact), so a deleted or pre-edit body does not stay in the log
-- until pruning, nor get replayed to a recovering session (docs/PROTOCOL.md: a delete erases
-- the body from storage).
ALTER TABLE event_log ADD COLUMN message_id BIGINT;
CREATE INDEX event_log_message_id ON event_log(message_id);
