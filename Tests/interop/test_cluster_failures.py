"""Three real server processes on one real PostgreSQL: a PostgreSQL restart during traffic, and a
node killed with SIGKILL (issue 13)."""
import json
import signal
import threading
import time

import pytest
import websocket

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


def test_a_paused_node_is_declared_dead_and_announces_its_users_online_when_it_resumes(cluster, clients):
    """kill -STOP of node B past CLUSTER_NODE_TIMEOUT: the others announce its user offline; kill
    -CONT: B finds it was declared dead, writes its presence again and announces the user, still
    connected to it, online (issue 13; before, the user stayed offline for everyone)."""
    a_node, b_node = cluster.nodes[0], cluster.nodes[1]
    watcher_user, paused = cluster.new_user("pwat"), cluster.new_user("paused")
    cluster.room_of(watcher_user, paused)
    watcher = clients(a_node, watcher_user)
    on_b = clients(b_node, paused)
    is_paused = lambda online: (lambda p: p["userId"] == paused["user"]["id"] and p["online"] is online)  # noqa: E731
    watcher.wait_for("presence", is_paused(True))
    b_node.process.send_signal(signal.SIGSTOP)
    try:
        watcher.wait_for("presence", is_paused(False), timeout=NODE_TIMEOUT_S + 10)
        seen = len(watcher.events["presence"])
    finally:
        b_node.process.send_signal(signal.SIGCONT)
    watcher.wait_for("presence", lambda p: is_paused(True)(p) and any(q is p for q in watcher.events["presence"][seen:]),
                     timeout=NODE_TIMEOUT_S + 10)
    assert not on_b.disconnected.is_set()
    assert cluster.pg.sql(f"SELECT count(*) FROM presence_connections WHERE user_id = {paused['user']['id']}") == "1"


def test_a_killed_node_is_declared_dead_its_users_go_offline_and_its_clients_reconnect_elsewhere(cluster, clients):
    """kill -9 of node C during steady traffic (senders on A, B and C). Counted by message id: every
    acked message is in the history exactly once, and every client that survived (on A and B) and
    the one that moved from C to B by connection state recovery received every stored message
    exactly once, in offset order, each sender's in the order it sent them (issue 13)."""
    a_node, b_node, c_node = cluster.nodes
    watcher_user, gone, mover = cluster.new_user("wat"), cluster.new_user("gone"), cluster.new_user("mov")
    senders = {node: cluster.new_user(f"snd{name}") for name, node in zip("abc", cluster.nodes)}
    room = cluster.room_of(watcher_user, gone, mover, *senders.values())
    watcher = clients(a_node, watcher_user)
    watcher_b = clients(b_node, watcher_user)
    gone_c = clients(c_node, gone)
    moving = RecoveringClient(mover["accessToken"])
    moving.connect(c_node)
    for user in (gone, mover):
        watcher.wait_for("presence", lambda p, u=user: p["userId"] == u["user"]["id"] and p["online"] is True)
    sending = {node: clients(node, user) for node, user in senders.items()}
    survivors = {"watcher on A": watcher, "watcher on B": watcher_b, "sender on A": sending[a_node], "sender on B": sending[b_node]}
    received = {name: record_messages(client) for name, client in survivors.items()}

    traffic = Traffic(room["id"], {node.url: client for node, client in sending.items()})
    traffic.start()
    traffic.wait_acked(30)                # steady: every sender has been acked a few times
    c_node.process.send_signal(signal.SIGKILL)
    c_node.process.wait()
    killed_at = time.monotonic()
    assert gone_c.disconnected.wait(5) and moving.closed.wait(5)
    # the mover's client reconnects a little later (its backoff; messages are sent meanwhile) to
    # another node (as a load balancer would send it) with its pid and last offset, and gets its
    # session back there
    traffic.wait_acked(10)
    old_sid = moving.sid
    moving.connect(b_node)
    assert moving.recovered and moving.sid == old_sid
    traffic.wait_acked(10)                # traffic goes on through the recovery

    # within the bound (plus a heartbeat and the announcement), the user who did not come back is offline
    got = watcher.wait_for("presence", lambda p: p["userId"] == gone["user"]["id"] and p["online"] is False,
                           timeout=NODE_TIMEOUT_S + 5)
    assert got["lastSeenAt"]
    assert time.monotonic() - killed_at < NODE_TIMEOUT_S + 5
    # the one who reconnected elsewhere never went offline
    time.sleep(1.0)
    assert not any(p["userId"] == mover["user"]["id"] and p["online"] is False for p in watcher.events.get("presence", []))
    acked = traffic.stop()

    # every acked message is stored once; the survivors and the mover got every stored one once
    history = history_ids(a_node, room["id"], watcher_user["accessToken"])
    assert len(history) == len(set(history))
    stored = set(history)
    assert len({m["id"] for m in acked}) == len(acked) and {m["id"] for m in acked} <= stored
    assert any(m["body"].startswith("from c") for m in acked)
    senders_of = {m["id"]: m["body"].rsplit("-", 1) for m in acked}

    def mover_log():
        return [(e[1]["id"], e[2]) for e in moving.snapshot() if e[0] == "message:new" and e[1]["roomId"] == room["id"]]
    logs = {**{name: (lambda log=log: list(log)) for name, log in received.items()}, "mover (C, then B)": mover_log}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all({i for i, _ in log()} >= stored for log in logs.values()):
        time.sleep(0.2)
    for name, log in logs.items():
        log = log()
        ids = [message_id for message_id, _ in log]
        assert len(ids) == len(set(ids)), f"{name} got a message twice: {ids}"
        assert set(ids) == stored, f"{name} missed {sorted(stored - set(ids))}, got unknown {sorted(set(ids) - stored)}"
        # python-engineio's client runs each message handler in its own thread
        # (engineio/client.py: _trigger_event('message', ..., run_async=True)), so handlers may see
        # two events in another order than the wire had them: order is checked by offset instead.
        offsets = [int(offset) for _, offset in log]
        assert len(set(offsets)) == len(offsets), f"{name}: an offset twice"
        ids = [message_id for message_id, _ in sorted(log, key=lambda entry: int(entry[1]))]
        assert ids == sorted(ids), f"{name}: in offset order, ids out of order (ids are taken in commit order)"
        for sender in "abc":
            sequence = [int(senders_of[i][1]) for i in ids if i in senders_of and senders_of[i][0] == f"from {sender}"]
            assert sequence == sorted(sequence), f"{name}: sender {sender}'s messages out of order"

    members = a_node.api("GET", f"/rooms/{room['id']}/members", watcher_user["accessToken"]).json()["members"]
    online = {m["user"]["id"]: m["online"] for m in members}
    assert online[gone["user"]["id"]] is False and online[mover["user"]["id"]] is True
    # the dead node's rows are gone
    assert cluster.pg.sql("SELECT count(*) FROM nodes") == "2"
    moving.close()


def record_messages(client) -> list:
    """(message id, offset) of every `message:new` the python-socketio `client` gets from now on,
    in arrival order (its `events` and `wait_for` keep working)."""
    log = []

    def on_message(message, offset=None):
        with client.cond:
            log.append((message["id"], offset))
            client.events.setdefault("message:new", []).append(message)
            client.cond.notify_all()
    client.client.on("message:new", on_message)
    return log


def history_ids(node, room_id, token) -> list[int]:
    """Every message id of the room's history, oldest first (paged by `after`)."""
    ids, after = [], 0
    while True:
        page = node.api("GET", f"/rooms/{room_id}/messages?after={after}&limit=100", token).json()
        ids += [m["id"] for m in page["messages"]]
        if not page.get("hasMore") or not page["messages"]:
            return ids
        after = page["messages"][-1]["id"]


class Traffic:
    """One thread per sender: `message:send` after `message:send` (each awaited, clientMsgId = body
    "from <node letter>-<n>"), until stopped or its node is gone. Records the acked messages."""

    def __init__(self, room_id, senders_by_url):
        self.room_id = room_id
        self.senders = list(senders_by_url.values())
        self.acked: list[dict] = []
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(letter, client), daemon=True)
                        for letter, client in zip("abc", self.senders)]

    def _run(self, letter, client):
        n = 0
        while not self.stopping.is_set():
            body = f"from {letter}-{n}"
            try:
                answer = client.call("message:send", {"roomId": self.room_id, "body": body, "clientMsgId": body}, timeout=5)
            except Exception:  # its node was killed
                if not client.client.connected:
                    return
                continue       # a timed-out ack: send the same clientMsgId again
            if answer.get("ok"):
                with self.cond:
                    self.acked.append(answer["message"])
                    self.cond.notify_all()
                n += 1
            time.sleep(0.02)

    def start(self):
        for thread in self.threads:
            thread.start()

    def wait_acked(self, more: int, timeout=20.0):
        """Waits until `more` further sends were acked (in all)."""
        with self.cond:
            target = len(self.acked) + more
            assert self.cond.wait_for(lambda: len(self.acked) >= target, timeout), "traffic stalled"

    def stop(self) -> list[dict]:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=10)
        return list(self.acked)


class RecoveringClient:
    """A Socket.IO v5 client over one raw WebSocket that speaks connection state recovery
    (python-socketio cannot): it keeps the pid and the last offset, presents both when it
    connects again (to any node), and records every event with its offset. A reader thread
    answers pings."""

    def __init__(self, token):
        self.token = token
        self.sid = self.pid = self.offset = None
        self.recovered = False
        self.events: list[tuple] = []   # (name, payload, offset or None)
        self.acks: set[int] = set()
        self.cond = threading.Condition()
        self.ws = None
        self.closed = threading.Event()

    def connect(self, node):
        ws = websocket.create_connection(node.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket", timeout=10)
        assert ws.recv().startswith("0{")
        auth = {"token": self.token}
        if self.pid and self.offset:
            auth.update(pid=self.pid, offset=self.offset)
        ws.send("40" + json.dumps(auth))
        reply = ws.recv()
        assert reply.startswith("40{"), reply
        body = json.loads(reply[2:])
        self.recovered = self.pid is not None and body.get("pid") == self.pid
        self.sid, self.pid = body["sid"], body.get("pid")
        ws.settimeout(None)
        self.ws, self.closed = ws, threading.Event()
        threading.Thread(target=self._read, args=(ws, self.closed), daemon=True).start()
        # the connection handler (rooms joined, replay sent) has run once an acked event comes back
        ws.send('421["auth:refresh",' + json.dumps({"token": self.token}) + "]")
        with self.cond:
            assert self.cond.wait_for(lambda: 1 in self.acks, 10), "no ack"
            self.acks.discard(1)

    def _read(self, ws, closed):
        try:
            while True:
                text = ws.recv()
                if not text:
                    break
                if text == "2":
                    ws.send("3")
                elif text.startswith("42["):
                    event = json.loads(text[2:])
                    offset = event[-1] if len(event) >= 3 and isinstance(event[-1], str) and event[-1].isdigit() else None
                    with self.cond:
                        self.events.append((event[0], event[1] if len(event) > 1 else None, offset))
                        if offset is not None:
                            self.offset = offset
                        self.cond.notify_all()
                elif text.startswith("43"):
                    with self.cond:
                        self.acks.add(int(text[2:text.index("[")]))
                        self.cond.notify_all()
        except Exception:  # the node died or we closed
            pass
        closed.set()

    def snapshot(self) -> list[tuple]:
        with self.cond:
            return list(self.events)

    def wait_for(self, predicate, timeout=10.0):
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self.events), timeout), "not received"

    def close(self):
        if self.ws is not None:
            self.ws.sock and self.ws.sock.close()
