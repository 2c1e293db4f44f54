"""Three real server processes on one real PostgreSQL, clients spread over them (issue 13):
messages, typing, read cursors, presence and revocation cross nodes."""
import time

import pytest

from cluster_fixture import Cluster, clients  # noqa: F401 (clients is a fixture)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(3)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def people(cluster):
    """Three users shared by the tests that only need members (each makes its own room):
    registering and logging in costs two scrypt hashes each."""
    return [cluster.new_user(p) for p in ("ann", "bob", "cat")]



def test_a_message_sent_on_a_reaches_members_on_b_and_c(cluster, people, clients):
    a_node, b_node, c_node = cluster.nodes
    ann, bob, cat = people
    room = cluster.room_of(ann, bob, cat)
    ann_a = clients(a_node, ann)
    bob_b = clients(b_node, bob)
    cat_c = clients(c_node, cat)

    ack = ann_a.call("message:send", {"roomId": room["id"], "body": "hello everyone", "clientMsgId": "m-1"})
    assert ack["ok"] is True, ack
    for client in (bob_b, cat_c):
        got = client.wait_for("message:new", lambda m: m["body"] == "hello everyone")
        assert got["id"] == ack["message"]["id"] and got["roomId"] == room["id"]

    # and back: B's message reaches A and C
    ack = bob_b.call("message:send", {"roomId": room["id"], "body": "hi from b", "clientMsgId": "m-2"})
    assert ack["ok"] is True
    ann_a.wait_for("message:new", lambda m: m["body"] == "hi from b")
    cat_c.wait_for("message:new", lambda m: m["body"] == "hi from b")


def test_typing_and_read_cross_nodes(cluster, people, clients):
    a_node, b_node, c_node = cluster.nodes
    ann, bob, _ = people
    room = cluster.room_of(ann, bob)
    ann_a = clients(a_node, ann)
    bob_b = clients(b_node, bob)
    bob_c = clients(c_node, bob)   # bob's second tab, on a third node

    assert ann_a.call("typing", {"roomId": room["id"], "typing": True})["ok"] is True
    for client in (bob_b, bob_c):
        got = client.wait_for("typing", lambda t: t["roomId"] == room["id"])
        assert got["userId"] == ann["user"]["id"] and got["typing"] is True
    # the typist's own tabs are excepted, wherever they are
    assert "typing" not in ann_a.events

    ack = ann_a.call("message:send", {"roomId": room["id"], "body": "read me", "clientMsgId": "r-1"})
    bob_b.wait_for("message:new", lambda m: m["body"] == "read me")
    assert bob_b.call("room:read", {"roomId": room["id"], "messageId": ack["message"]["id"]})["ok"] is True
    # bob's other tab, on C, learns that bob read it
    got = bob_c.wait_for("read", lambda r: r["roomId"] == room["id"])
    assert got["lastReadMessageId"] == ack["message"]["id"]


def test_joining_a_room_on_one_node_subscribes_sockets_on_others(cluster, people, clients):
    a_node, b_node, _ = cluster.nodes
    ann, bob, _ = people
    room = cluster.room_of(ann)
    bob_b = clients(b_node, bob)
    ann_a = clients(a_node, ann)
    # bob joins over REST on node A: his socket on B must join room:<id> there
    assert a_node.api("POST", f"/rooms/{room['id']}/join", bob["accessToken"]).status_code == 200
    ann_a.wait_for("room:member", lambda e: e["user"]["id"] == bob["user"]["id"])
    ack = ann_a.call("message:send", {"roomId": room["id"], "body": "welcome bob", "clientMsgId": "j-1"})
    assert ack["ok"] is True
    bob_b.wait_for("message:new", lambda m: m["body"] == "welcome bob")


def test_logout_on_a_disconnects_the_sessions_socket_on_b_within_a_second(cluster, clients):
    a_node, b_node, c_node = cluster.nodes
    ann = cluster.new_user("ann")
    other = b_node.login(ann["user"]["username"])
    doomed = clients(b_node, ann)
    survivor = clients(c_node, other)
    assert b_node.api("GET", "/rooms", ann["accessToken"]).status_code == 200   # B has the session cached live

    started = time.monotonic()
    assert a_node.api("POST", "/auth/logout", ann["accessToken"]).status_code == 204
    assert doomed.disconnected.wait(1.0), "the revoked session's socket on B stayed connected"
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed
    # B refuses the token on REST from now on (its SessionLiveness was told, not re-read 10 s later)
    r = b_node.api("GET", "/rooms", ann["accessToken"])
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_revoked", r.text
    # the user's other session, on C, is untouched
    time.sleep(0.3)
    assert survivor.client.connected
    assert c_node.api("GET", "/rooms", other["accessToken"]).status_code == 200


def test_presence_counts_connections_on_every_node(cluster, clients):
    a_node, b_node, c_node = cluster.nodes
    ann, bob = cluster.new_user("ann"), cluster.new_user("bob")
    room = cluster.room_of(ann, bob)
    watcher = clients(c_node, bob)
    ann_a = clients(a_node, ann)
    watcher.wait_for("presence", lambda p: p["userId"] == ann["user"]["id"] and p["online"] is True)
    # REST on C (which holds no connection of ann's) says online too
    members = c_node.api("GET", f"/rooms/{room['id']}/members", bob["accessToken"]).json()["members"]
    assert [m["online"] for m in members if m["user"]["id"] == ann["user"]["id"]] == [True], members

    # ann opens a second tab on B, then closes the one on A: still online (B holds her)
    ann_b = clients(b_node, ann)
    ann_a.close()
    time.sleep(6.5)   # past the 5 s grace period of node A
    assert not any(p["userId"] == ann["user"]["id"] and p["online"] is False for p in watcher.events.get("presence", []))

    # the last tab goes: offline with lastSeenAt, after the grace
    ann_b.close()
    got = watcher.wait_for("presence", lambda p: p["userId"] == ann["user"]["id"] and p["online"] is False, timeout=10)
    assert got["lastSeenAt"]
