-- Several nodes on one PostgreSQL (issue 13; Sources/Server/Cluster).
-- Times are BIGINT milliseconds since the epoch, written with the database's clock
-- (clock_timestamp()), so the nodes' clocks need not agree.

-- One row per running node: a heartbeat every few seconds; a row older than the bound
-- (CLUSTER_NODE_TIMEOUT, 15 s) is a dead node, deleted by the node that cleans up after it.
CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
CREATE INDEX nodes_heartbeat ON nodes(heartbeat_at);

-- Adapter messages too large for NOTIFY (payloads of 8000 bytes or more are refused) or
-- carrying binary: the NOTIFY carries the row's id. Rows are deleted after a minute.
CREATE TABLE adapter_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX adapter_messages_created ON adapter_messages(created_at);

-- Which nodes hold a user online (connected there, or inside that node's grace period).
-- A user is online while any row exists; a dead node's rows go when it is declared dead.
CREATE TABLE presence_connections (
    user_id BIGINT NOT NULL,
    node_id TEXT NOT NULL,
    PRIMARY KEY (user_id, node_id)
);
CREATE INDEX presence_connections_node ON presence_connections(node_id);
