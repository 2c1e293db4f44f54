"""Connection state recovery at the raw wire level against the real server (issue 13): the CONNECT
reply carries a pid, logged events carry their offset as the last argument, and a reconnect with
pid + offset gets the same sid and every missed event once, in order, before a live one; a forged
pid gets a clean new session. The server's log and sessions are in its database (SQLite here).
With RECOVERY_WINDOW=0 recovery is off: no pid, no offset argument."""
import json
import time
import uuid

import socketio
import websocket

from switchboard_fixture import Switchboard


def ws_url(server):
    return server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


class RawClient:
    """A Socket.IO v5 client over one WebSocket, speaking the recovery fields by hand."""

    def __init__(self, server, auth):
        self.ws = websocket.create_connection(ws_url(server), timeout=10)
        assert self.ws.recv().startswith("0{")
        self.ws.send("40" + json.dumps(auth))
        reply = self.ws.recv()
        assert reply.startswith("40{"), reply
        body = json.loads(reply[2:])
        self.sid, self.pid = body["sid"], body.get("pid")
        self.offset = auth.get("offset")
        self.queued = []
        # The connection handler (rooms joined) has run once an acked event comes back.
        self.ws.send('421["auth:refresh",{}]')
        while True:
            text = self.recv()
            if text.startswith("431["):
                break

    def recv(self):
        while True:
            text = self.ws.recv()
            if text == "2":  # Engine.IO ping
                self.ws.send("3")
                continue
            if text.startswith("42["):
                self.queued.append(json.loads(text[2:]))
            return text

    def until(self, name, predicate=lambda payload: True):
        """Events up to and including the first `name` whose payload matches; remembers offsets."""
        seen = []
        while True:
            while not self.queued:
                self.recv()
            event = self.queued.pop(0)
            seen.append(event)
            if len(event) >= 3 and isinstance(event[-1], str) and event[-1].isdigit():
                self.offset = event[-1]
            if event[0] == name and predicate(event[1]):
                return seen

    def close(self):
        self.ws.sock.close()  # a dropped transport, not a namespace DISCONNECT


def set_topic(server, token, room, topic):
    r = server.api("PATCH", f"/rooms/{room}", token, json={"topic": topic})
    assert r.status_code == 200, r.text


def topics(events):
    return [e[1]["topic"] for e in events if e[0] == "room:updated"]


def test_a_dropped_connection_recovers_its_missed_events_in_order(server):
    ann, bob = server.new_user("ann"), server.new_user("bob")
    room = server.api("POST", "/rooms", ann["accessToken"], json={"name": f"rec-{uuid.uuid4().hex[:6]}", "kind": "public"}).json()["id"]
    assert server.api("POST", f"/rooms/{room}/join", bob["accessToken"]).status_code == 200

    first = RawClient(server, {"token": bob["accessToken"]})
    assert first.pid and len(first.pid) == 22
    set_topic(server, ann["accessToken"], room, "seen")
    assert topics(first.until("room:updated")) == ["seen"]
    assert first.offset is not None
    pid, offset = first.pid, first.offset
    first.close()

    for topic in ("missed 1", "missed 2"):
        set_topic(server, ann["accessToken"], room, topic)

    again = RawClient(server, {"token": bob["accessToken"], "pid": pid, "offset": offset})
    try:
        assert (again.sid, again.pid) == (first.sid, pid)
        set_topic(server, ann["accessToken"], room, "live")
        events = again.until("room:updated", lambda p: p["topic"] == "live")
        assert topics(events) == ["missed 1", "missed 2", "live"]
        offsets = [int(e[-1]) for e in events if e[0] == "room:updated"]
        assert offsets == sorted(set(offsets)) and offsets[0] > int(offset)
    finally:
        again.close()

    forged = RawClient(server, {"token": bob["accessToken"], "pid": "A" * 22, "offset": offset})
    try:
        assert forged.sid != first.sid and forged.pid not in (None, pid)
        set_topic(server, ann["accessToken"], room, "after forged")
        assert topics(forged.until("room:updated")) == ["after forged"]
    finally:
        forged.close()


def test_recovery_window_zero_turns_recovery_and_offsets_off():
    """RECOVERY_WINDOW=0: no pid in the CONNECT reply, logged events without the offset argument
    (a fixed-arity python-socketio handler gets them), and a reconnect with pid + offset is a new
    session, as from Node's server without `connectionStateRecovery`."""
    server = Switchboard(RECOVERY_WINDOW="0")
    try:
        ann, bob = server.new_user("ann"), server.new_user("bob")
        room = server.api("POST", "/rooms", ann["accessToken"], json={"name": f"off-{uuid.uuid4().hex[:6]}", "kind": "public"}).json()["id"]
        assert server.api("POST", f"/rooms/{room}/join", bob["accessToken"]).status_code == 200

        raw = RawClient(server, {"token": bob["accessToken"]})
        assert raw.pid is None
        set_topic(server, ann["accessToken"], room, "plain")
        event = raw.until("room:updated")[-1]
        assert len(event) == 2 and event[1]["topic"] == "plain"   # [name, payload]: no offset
        raw.close()

        topics_seen = []
        sio = socketio.Client(reconnection=False)
        sio.on("room:updated", lambda payload: topics_seen.append(payload["topic"]))   # one argument only
        sio.connect(server.url, auth={"token": bob["accessToken"]}, transports=["websocket"], wait_timeout=10)
        try:
            assert sio.call("auth:refresh", {"token": bob["accessToken"]}, timeout=10)["ok"] is True
            set_topic(server, ann["accessToken"], room, "fixed arity")
            deadline = time.monotonic() + 10
            while "fixed arity" not in topics_seen and time.monotonic() < deadline:
                time.sleep(0.05)
            assert topics_seen == ["fixed arity"]
        finally:
            sio.disconnect()

        again = RawClient(server, {"token": bob["accessToken"], "pid": "A" * 22, "offset": "1"})
        try:
            assert again.sid != raw.sid and again.pid is None
        finally:
            again.close()
    finally:
        server.stop()
