-- The durable event log (issue 13): every non-volatile room broadcast, committed in the same
-- transaction as the change it reports. A seq is the Socket.IO offset clients recover from.
-- AUTOINCREMENT: a seq is never reused, even after pruning emptied the table (an old client
-- offset must never name a newer event).
-- rooms / except_rooms / data are JSON arrays (data: the event's arguments, without the offset);
-- effect is a JSON object {"kind":"join"|"leave","subject":room,"rooms":[...]} or NULL.
CREATE TABLE event_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    rooms TEXT NOT NULL,
    except_rooms TEXT NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    effect TEXT,
    created_at BIGINT NOT NULL
);
-- Pruning deletes by age.
CREATE INDEX event_log_created_at ON event_log(created_at);

-- Connection state recovery: one row per private session id (only its SHA-256 is stored).
-- owner is the access token's session id; rooms a JSON array; disconnected_at NULL while connected
-- (or its node died); log_floor the log's end when the session was first saved (a session never
-- replays events from before it existed).
CREATE TABLE recovery_sessions (
    pid_hash TEXT PRIMARY KEY,
    socket_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    owner TEXT,
    rooms TEXT NOT NULL,
    node_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    disconnected_at BIGINT,
    log_floor BIGINT NOT NULL
);
-- Pruning deletes sessions disconnected longer than the window, and sessions not saved for a day.
CREATE INDEX recovery_sessions_disconnected_at ON recovery_sessions(disconnected_at);
CREATE INDEX recovery_sessions_updated_at ON recovery_sessions(updated_at);
