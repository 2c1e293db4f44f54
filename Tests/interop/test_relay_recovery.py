"""Connection state recovery (socket.io 4.6+) against `relay-conformance --interop --recovery`.

At the raw wire level (websocket-client, Socket.IO packets written by hand): the CONNECT reply
carries a pid, logged broadcasts carry the offset as their last argument, and a reconnect with
pid + offset gets the same socket back with the events it missed, in order, before live ones.
Invalid pid/offset: a clean new session. python-socketio has no recovery: it gets a pid it
ignores, sees the offset as an extra argument, and works as before.
"""
import json

import pytest
import socketio
import websocket

from relay_fixture import RelayServer

TIMEOUT = 5


@pytest.fixture(scope="module")
def server():
    srv = RelayServer("--interop", "--recovery")
    yield srv
    srv.stop()


class RawSocket:
    """One Engine.IO WebSocket joined to "/" with a CONNECT written by hand."""

    def __init__(self, server, auth=None):
        self.pending = []  # packets that arrived while waiting for an ack
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=TIMEOUT
        )
        opening = self.ws.recv()
        assert opening.startswith("0{")
        self.ws.send("40" + (json.dumps(auth, separators=(",", ":")) if auth is not None else ""))
        self.reply = self.recv()
        assert self.reply.startswith("0{"), self.reply
        data = json.loads(self.reply[1:])
        self.sid = data["sid"]
        self.pid = data.get("pid")
        # the interop namespace greets every socket with its CONNECT payload
        assert json.loads(self.recv()[1:]) == ["auth", auth if auth is not None else {}]
        self.next_ack = 0

    def recv(self):
        """The next Socket.IO packet (Engine.IO pings are answered on the way)."""
        while True:
            message = self.ws.recv()
            if message == "2":
                self.ws.send("3")
                continue
            assert message.startswith("4"), message
            return message[1:]

    def call(self, *args):
        """Emits an event with an ack id and returns the ack's arguments."""
        ack = self.next_ack
        self.next_ack += 1
        self.ws.send("42" + str(ack) + json.dumps(list(args), separators=(",", ":")))
        while True:
            packet = self.recv()
            if packet.startswith("3" + str(ack) + "["):
                return json.loads(packet[1 + len(str(ack)):])
            self.pending.append(packet)

    def event(self):
        """The next EVENT packet as a list [name, args…]."""
        packet = self.pending.pop(0) if self.pending else self.recv()
        assert packet.startswith("2["), packet
        return json.loads(packet[1:])

    def close(self):
        self.ws.close()


def test_connect_reply_carries_pid_and_broadcasts_carry_offsets(server):
    a = RawSocket(server)
    b = RawSocket(server)
    try:
        # exactly {"pid":…,"sid":…}: keys sorted, compact
        assert a.reply == '0{"pid":"%s","sid":"%s"}' % (a.pid, a.sid)
        assert len(a.pid) == 22 and a.pid != b.pid
        assert a.call("join", "r-offsets") == [True]
        assert b.call("to-room-all", "r-offsets", "news", {"n": 1}) == [True]
        name, payload, offset = a.event()
        assert (name, payload) == ("news", {"n": 1})
        assert offset.isdigit()
        assert b.call("to-room-all", "r-offsets", "news", {"n": 2}) == [True]
        assert a.event() == ["news", {"n": 2}, str(int(offset) + 1)]
        # a socket's own emits are not logged
        a.ws.send('42["message","x"]')
        assert a.event() == ["message-back", "x"]
    finally:
        a.close()
        b.close()


def test_reconnect_with_pid_and_offset_is_recovered_with_missed_events_in_order(server):
    a = RawSocket(server)
    b = RawSocket(server)
    try:
        assert a.call("join", "r-recover") == [True]
        assert b.call("to-room-all", "r-recover", "news", {"n": 1}) == [True]
        _, _, last = a.event()
        a.close()  # the transport drops: recoverable
        for n in (2, 3, 4):
            assert b.call("to-room-all", "r-recover", "news", {"n": n}) == [True]
        assert b.call("to-room-all", "r-elsewhere", "news", {"n": "not for a"}) == [True]

        auth = {"pid": a.pid, "offset": last}
        again = RawSocket(server, auth=auth)
        assert (again.sid, again.pid) == (a.sid, a.pid)
        base = int(last)
        assert [again.event() for _ in range(3)] == [
            ["news", {"n": n}, str(base + n - 1)] for n in (2, 3, 4)
        ]
        assert again.call("recovered") == [True]
        assert sorted(again.call("rooms")[0]) == sorted([a.sid, "r-recover"])
        # live again, after the replay
        assert b.call("to-room-all", "r-recover", "news", {"n": 5}) == [True]
        assert again.event() == ["news", {"n": 5}, str(base + 5)]
        again.close()
    finally:
        b.close()


@pytest.mark.parametrize(
    "bad",
    ["forged-pid", "offset-not-numeric", "offset-in-the-future", "offset-as-number", "no-offset", "after-disconnect"],
)
def test_invalid_recovery_gets_a_clean_new_session(server, bad):
    a = RawSocket(server)
    b = RawSocket(server)
    try:
        assert a.call("join", "r-bad") == [True]
        assert b.call("to-room-all", "r-bad", "secret", "for a") == [True]
        _, _, last = a.event()
        if bad == "after-disconnect":
            a.ws.send("41")  # a namespace DISCONNECT ends the session for good
        a.close()
        assert b.call("to-room-all", "r-bad", "secret", "missed") == [True]
        auth = {
            "forged-pid": {"pid": "A" * 22, "offset": last},
            "offset-not-numeric": {"pid": a.pid, "offset": last + "x"},
            "offset-in-the-future": {"pid": a.pid, "offset": str(int(last) + 1000)},
            "offset-as-number": {"pid": a.pid, "offset": int(last)},
            "no-offset": {"pid": a.pid},
            "after-disconnect": {"pid": a.pid, "offset": last},
        }[bad]
        c = RawSocket(server, auth=auth)
        assert c.sid != a.sid and c.pid not in (None, a.pid)
        assert c.call("recovered") == [False]
        assert c.call("rooms") == [[c.sid]]
        # nothing was replayed: no event came before the ack above
        assert c.pending == []
        c.close()
    finally:
        b.close()


def test_python_socketio_gets_a_new_session_and_ignores_the_pid(server):
    """python-socketio has no recovery: the pid is ignored, offsets arrive as a trailing
    argument, and a reconnect is a clean new session."""
    client = socketio.Client(reconnection=False, request_timeout=TIMEOUT)
    received = []
    client.on("news", lambda *args: received.append(args))
    try:
        client.connect(server.url, transports=["websocket"], wait_timeout=TIMEOUT)
        first_sid = client.get_sid()
        assert client.call("join", "r-python", timeout=TIMEOUT) is True
        assert client.call("to-room-all", ("r-python", "news", {"n": 1}), timeout=TIMEOUT) is True
        for _ in range(50):
            if received:
                break
            client.sleep(0.1)
        assert len(received) == 1
        payload, offset = received[0]
        assert payload == {"n": 1} and offset.isdigit()
        client.disconnect()

        client.connect(server.url, transports=["websocket"], wait_timeout=TIMEOUT)
        assert client.get_sid() != first_sid
        assert client.call("recovered", timeout=TIMEOUT) is False
        assert client.call("rooms", timeout=TIMEOUT) == [client.get_sid()]
    finally:
        client.disconnect()
