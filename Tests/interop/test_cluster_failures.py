"""Three real server processes on one real PostgreSQL: a PostgreSQL restart during traffic, and a
node killed with SIGKILL (issue 13)."""
import signal
import time

import pytest

from cluster_fixture import NODE_TIMEOUT_S, Cluster, clients  # noqa: F401 (clients is a fixture)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(3)
    yield c
    c.stop()



def send_until_acked(client, room_id, body, timeout=20.0):
    """Sends with one clientMsgId until acked ok (the database may still be coming back)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = client.call("message:send", {"roomId": room_id, "body": body, "clientMsgId": body}, timeout=5)
            if last.get("ok"):
                return last
        except Exception as error:  # a timed-out ack while PostgreSQL is down
            last = error
        time.sleep(0.3)
    raise AssertionError(f"{body!r} never acked: {last}")


def test_postgresql_restart_during_traffic_nodes_listen_again_and_deliver(cluster, clients):
    a_node, b_node, c_node = cluster.nodes
    ann, bob = cluster.new_user("ann"), cluster.new_user("bob")
    room = cluster.room_of(ann, bob)
    ann_a = clients(a_node, ann)
    bob_b = clients(b_node, bob)
    bob_c = clients(c_node, bob)
    send_until_acked(ann_a, room["id"], "before")
    bob_b.wait_for("message:new", lambda m: m["body"] == "before")

    cluster.pg.stop("fast")   # every connection is closed, the LISTEN ones included
    time.sleep(1.0)
    cluster.pg.start()

    # sockets stayed up (each node keeps serving its own connections) ...
    assert ann_a.client.connected and bob_b.client.connected and bob_c.client.connected
    # ... and once the nodes are back on PostgreSQL (pool and LISTEN connection reconnect by
    # themselves), every node delivers again, both ways. A message sent while a node's LISTEN
    # connection is still reconnecting reaches its clients through the event log's catch-up
    # (the log tail is woken after every reconnect), so only "eventually live" is asserted here.
    acked = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        acked.append(send_until_acked(ann_a, room["id"], f"after restart {len(acked)}"))
        if all(any(m["id"] == acked[-1]["message"]["id"] for m in c.events.get("message:new", [])) for c in (bob_b, bob_c)):
            break
        time.sleep(0.5)
    for client in (bob_b, bob_c):
        client.wait_for("message:new", lambda m: m["id"] == acked[-1]["message"]["id"], timeout=2)
    send_until_acked(bob_c, room["id"], "from c after restart")
    ann_a.wait_for("message:new", lambda m: m["body"] == "from c after restart", timeout=15)
    # volatile events need the LISTEN connections too: typing crosses again
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(t["userId"] == ann["user"]["id"] for t in bob_c.events.get("typing", [])):
        ann_a.call("typing", {"roomId": room["id"], "typing": False})
        time.sleep(0.5)
    bob_c.wait_for("typing", lambda t: t["userId"] == ann["user"]["id"], timeout=0.1)
    # nothing acked was lost: the history has every acked message once
    history = a_node.api("GET", f"/rooms/{room['id']}/messages", ann["accessToken"]).json()
    bodies = [m["body"] for m in (history["messages"] if isinstance(history, dict) else history)]
    for body in ["before", "from c after restart"] + [a["message"]["body"] for a in acked]:
        assert bodies.count(body) == 1, bodies


def test_a_killed_node_is_declared_dead_its_users_go_offline_and_its_clients_reconnect_elsewhere(cluster, clients):
    a_node, b_node, c_node = cluster.nodes
    watcher_user, gone, mover = cluster.new_user("wat"), cluster.new_user("gone"), cluster.new_user("mov")
    room = cluster.room_of(watcher_user, gone, mover)
    watcher = clients(a_node, watcher_user)
    gone_c = clients(c_node, gone)
    mover_c = clients(c_node, mover)
    for user in (gone, mover):
        watcher.wait_for("presence", lambda p, u=user: p["userId"] == u["user"]["id"] and p["online"] is True)

    c_node.process.send_signal(signal.SIGKILL)
    c_node.process.wait()
    killed_at = time.monotonic()
    assert gone_c.disconnected.wait(5) and mover_c.disconnected.wait(5)
    # the mover's client reconnects to another node (as a load balancer would send it)
    mover_b = clients(b_node, mover)
    ack = send_until_acked(mover_b, room["id"], "moved to b")
    watcher.wait_for("message:new", lambda m: m["id"] == ack["message"]["id"])

    # within the bound (plus a heartbeat and the announcement), the user who did not come back is offline
    got = watcher.wait_for("presence", lambda p: p["userId"] == gone["user"]["id"] and p["online"] is False,
                           timeout=NODE_TIMEOUT_S + 5)
    assert got["lastSeenAt"]
    assert time.monotonic() - killed_at < NODE_TIMEOUT_S + 5
    # the one who reconnected elsewhere never went offline
    time.sleep(1.0)
    assert not any(p["userId"] == mover["user"]["id"] and p["online"] is False for p in watcher.events.get("presence", []))
    members = a_node.api("GET", f"/rooms/{room['id']}/members", watcher_user["accessToken"]).json()["members"]
    online = {m["user"]["id"]: m["online"] for m in members}
    assert online[gone["user"]["id"]] is False and online[mover["user"]["id"]] is True
    # the dead node's rows are gone
    assert cluster.pg.sql("SELECT count(*) FROM nodes") == "2"
