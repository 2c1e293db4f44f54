"""Two nodes on one PostgreSQL group-commit their own batches of `message:send`
(MessageService.insertBatch, one multi-row INSERT … ON CONFLICT DO NOTHING per batch): one
user's two tabs, one on each node, in python-socketio's default transports, send the same
clientMsgIds at the same moment, so the two nodes' batches race for the same keys (the later
INSERT waits for the earlier transaction, then skips the row and reads the stored one)."""
import threading
import time

import pytest

from cluster_fixture import Cluster, clients  # noqa: F401 (clients is a fixture)
from test_cluster_failures import record_messages


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(2)
    yield c
    c.stop()


def test_one_users_tabs_on_two_nodes_sending_the_same_client_msg_ids_store_each_once(cluster, clients):
    ann, bob = cluster.new_user("ann"), cluster.new_user("bob")
    room = cluster.room_of(ann, bob)
    tabs = [clients(node, ann, transports=("polling", "websocket")) for node in cluster.nodes]
    tabs.append(clients(cluster.nodes[1], bob, transports=("polling", "websocket")))
    heard_with_offsets = [record_messages(tab) for tab in tabs]
    barrier = threading.Barrier(len(tabs))
    answers, lock = [], threading.Lock()

    def run(index, tab):
        barrier.wait()
        for k in range(40):
            if index < 2:   # ann, from both nodes: the same key and body
                payload = {"roomId": room["id"], "body": f"ann {k}", "clientMsgId": f"same-{k}"}
            else:           # bob, meanwhile, without clientMsgIds: matched back by id order
                payload = {"roomId": room["id"], "body": f"bob {k}"}
            ack = tab.call("message:send", payload, timeout=30)
            with lock:
                answers.append((payload, ack))

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(tabs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {tab.transport for tab in tabs} == {"websocket"}, "upgraded from polling"

    ids = {}
    for payload, ack in answers:
        assert ack["ok"] is True, ack
        message = ack["message"]
        assert message["body"] == payload["body"] and message.get("clientMsgId") == payload.get("clientMsgId")
        if "clientMsgId" in payload:
            ids.setdefault(payload["clientMsgId"], set()).add(message["id"])
    assert len(ids) == 40 and all(len(found) == 1 for found in ids.values()), ids
    assert sum(1 for _, ack in answers if ack["duplicate"]) == 40, "each key: one tab stored it, the other was told duplicate"

    history, before = [], None
    while True:
        query = "?limit=100" + (f"&before={before}" if before else "")
        page = cluster.nodes[0].api("GET", f"/rooms/{room['id']}/messages{query}", ann["accessToken"]).json()
        history = page["messages"] + history
        if not page.get("hasMore"):
            break
        before = page["messages"][0]["id"]
    assert sorted(m["body"] for m in history) == sorted([f"ann {k}" for k in range(40)] + [f"bob {k}" for k in range(40)])

    # Live order = history order (ids), on both nodes and for every tab: two nodes' batches take
    # the appenders' lock before their INSERT, so ids are assigned in commit order (before, a
    # batch could take lower ids and commit after a later one: 4 inversions in 132 messages).
    # By offset: python-engineio runs each message handler in its own thread, so arrival order at
    # the handlers is not the wire's.
    expected = [m["id"] for m in history]
    for log in heard_with_offsets:
        deadline = time.monotonic() + 10
        while len(log) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.05)
        heard = [message_id for message_id, _ in sorted(list(log), key=lambda entry: int(entry[1]))]
        assert heard == expected, f"in offset order, heard ids differ from history at {next((i for i, (a, b) in enumerate(zip(heard, expected)) if a != b), None)}"
