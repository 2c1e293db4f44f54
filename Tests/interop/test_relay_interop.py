"""python-socketio (the real PyPI client) against Relay, over polling, WebSocket and the upgrade."""
import queue
import threading

import pytest
import requests
import socketio

from relay_fixture import RelayServer

TRANSPORTS = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": ["polling", "websocket"],
}
TIMEOUT = 5


@pytest.fixture(scope="module")
def server():
    srv = RelayServer("--interop")
    yield srv
    srv.stop()


class Recorder:
    """Collects events per name in thread-safe queues."""

    def __init__(self, client: socketio.Client, events, namespace="/"):
        self.queues = {}
        for name in events:
            q = queue.Queue()
            self.queues[name] = q
            client.on(name, self._handler(q), namespace=namespace)

    @staticmethod
    def _handler(q):
        def handle(*args):
            q.put(args)
        return handle

    def get(self, name, timeout=TIMEOUT):
        return self.queues[name].get(timeout=timeout)

    def empty(self, name):
        return self.queues[name].empty()


def make_client(**kwargs):
    return socketio.Client(reconnection=False, request_timeout=TIMEOUT, **kwargs)


@pytest.fixture(params=list(TRANSPORTS))
def mode(request):
    return request.param


def connect(client, server, mode, **kwargs):
    client.connect(server.url, transports=TRANSPORTS[mode], wait_timeout=TIMEOUT, **kwargs)


def test_connect_with_auth_and_transport(server, mode):
    client = make_client()
    rec = Recorder(client, ["auth"])
    connect(client, server, mode, auth={"token": "123"})
    try:
        assert rec.get("auth") == ({"token": "123"},)
        if mode == "upgrade":
            # python-engineio upgrades right after the handshake
            for _ in range(50):
                if client.eio.current_transport == "websocket":
                    break
                threading.Event().wait(0.1)
        expected = {"polling": "polling", "websocket": "websocket", "upgrade": "websocket"}[mode]
        assert client.transport() == expected
    finally:
        client.disconnect()


def test_refused_auth_sees_connect_error(server, mode):
    client = make_client()
    errors = queue.Queue()
    client.on("connect_error", lambda data: errors.put(data), namespace="/secure")
    with pytest.raises(socketio.exceptions.ConnectionError):
        connect(client, server, mode, namespaces=["/secure"], auth={"token": "wrong"})
    data = errors.get(timeout=TIMEOUT)
    assert data["message"] == "invalid_token"
    assert data["data"] == {"code": "invalid_token"}
    client.disconnect()


def test_accepted_auth_sets_socket_data(server, mode):
    client = make_client()
    rec = Recorder(client, ["welcome"], namespace="/secure")
    connect(client, server, mode, namespaces=["/secure"], auth={"token": "letmein"})
    try:
        assert rec.get("welcome") == ("user-1",)
    finally:
        client.disconnect()


def test_event_and_client_to_server_ack(server, mode):
    client = make_client()
    rec = Recorder(client, ["message-back"])
    connect(client, server, mode)
    try:
        client.emit("message", [1, "2", {"3": [True]}])
        assert rec.get("message-back") == ([1, "2", {"3": [True]}],)
        reply = client.call("message-with-ack", ("a", {"b": None}), timeout=TIMEOUT)
        assert reply == ("a", {"b": None})
    finally:
        client.disconnect()


def test_server_to_client_ack(server, mode):
    client = make_client()
    rec = Recorder(client, ["server-ack-result"])
    client.on("server-ack", lambda *args: ("ok", *args))
    connect(client, server, mode)
    try:
        client.emit("request-server-ack", "ping")
        assert rec.get("server-ack-result") == ("ok", "ping")
    finally:
        client.disconnect()


def test_binary_both_ways(server, mode):
    client = make_client()
    rec = Recorder(client, ["message-back"])
    connect(client, server, mode)
    try:
        payload = {"blob": b"\x00\x01\x02\xff", "list": [b"abc", 1]}
        client.emit("message", payload)
        assert rec.get("message-back") == (payload,)
        reply = client.call("message-with-ack", b"\x10\x20", timeout=TIMEOUT)
        assert reply == b"\x10\x20"
    finally:
        client.disconnect()


def test_rooms_broadcast_excludes_sender(server, mode):
    a, b, c = make_client(), make_client(), make_client()
    recs = [Recorder(x, ["room-news"]) for x in (a, b, c)]
    for x in (a, b, c):
        connect(x, server, mode)
    try:
        assert a.call("join", "room-1", timeout=TIMEOUT) is True
        assert b.call("join", "room-1", timeout=TIMEOUT) is True
        rooms = b.call("rooms", timeout=TIMEOUT)
        assert "room-1" in rooms and b.get_sid() in rooms
        assert a.call("to-room", ("room-1", "room-news", {"n": 1}), timeout=TIMEOUT) is True
        assert recs[1].get("room-news") == ({"n": 1},)
        threading.Event().wait(0.3)
        assert recs[0].empty("room-news"), "sender excluded"
        assert recs[2].empty("room-news"), "not in the room"
    finally:
        for x in (a, b, c):
            x.disconnect()


def test_server_side_disconnect(server, mode):
    client = make_client()
    gone = threading.Event()
    reasons = []

    def on_disconnect(*args):
        reasons.append(args)
        gone.set()

    client.on("disconnect", on_disconnect)
    connect(client, server, mode)
    client.emit("disconnect-me")
    assert gone.wait(TIMEOUT)
    client.disconnect()


def test_client_disconnect_then_reconnect(server, mode):
    client = make_client()
    connect(client, server, mode)
    client.disconnect()
    assert not client.connected
    client2 = make_client()
    rec = Recorder(client2, ["auth"])
    connect(client2, server, mode)
    try:
        assert rec.get("auth") == ({},)
    finally:
        client2.disconnect()


def test_dynamic_namespace(server, mode):
    client = make_client()
    rec = Recorder(client, ["dynamic"], namespace="/dyn-42")
    connect(client, server, mode, namespaces=["/dyn-42"])
    try:
        assert rec.get("dynamic") == ("/dyn-42",)
    finally:
        client.disconnect()


def test_engine_errors_like_node(server):
    base = f"{server.url}/socket.io/"
    r = requests.get(base, params={"EIO": "4", "transport": "carrier-pigeon"}, timeout=TIMEOUT)
    assert r.status_code == 400 and r.json() == {"code": 0, "message": "Transport unknown"}
    r = requests.get(base, params={"EIO": "4", "transport": "polling", "sid": "nope"}, timeout=TIMEOUT)
    assert r.status_code == 400 and r.json() == {"code": 1, "message": "Session ID unknown"}
    r = requests.post(base, params={"EIO": "4", "transport": "polling"}, timeout=TIMEOUT)
    assert r.status_code == 400 and r.json() == {"code": 2, "message": "Bad handshake method"}
    r = requests.get(base, params={"EIO": "3", "transport": "polling"}, timeout=TIMEOUT)
    assert r.status_code == 400 and r.json() == {"code": 5, "message": "Unsupported protocol version"}



def test_default_transports_end_on_websocket(server):
    """python-socketio's default transports: polling, then the upgrade to websocket."""
    client = make_client()
    rec = Recorder(client, ["auth"])
    client.connect(server.url, auth={"token": "default"}, wait_timeout=TIMEOUT)
    try:
        assert rec.get("auth") == ({"token": "default"},)
        for _ in range(50):
            if client.transport() == "websocket":
                break
            threading.Event().wait(0.1)
        assert client.transport() == "websocket"
    finally:
        client.disconnect()


def test_async_client_default_transports_upgrade_on_a_pooled_connection(server):
    """python-socketio's asyncio client (aiohttp) with its default transports: aiohttp sends the
    WebSocket upgrade on a kept-alive connection from its pool, one that already carried the
    polling requests. Relay used to answer that upgrade 400 and the client stayed on polling
    (issue 11, item 1)."""
    import asyncio

    async def run():
        client = socketio.AsyncClient(reconnection=False, request_timeout=TIMEOUT)
        auth = asyncio.Queue()
        acks = asyncio.Queue()
        client.on("auth", lambda *args: auth.put_nowait(args))
        await client.connect(server.url, auth={"token": "pooled"}, wait_timeout=TIMEOUT)
        try:
            assert await asyncio.wait_for(auth.get(), TIMEOUT) == ({"token": "pooled"},)
            for _ in range(50):
                if client.transport() == "websocket":
                    break
                await asyncio.sleep(0.1)
            assert client.transport() == "websocket"
            await client.emit("message-with-ack", "over websocket", callback=lambda *args: acks.put_nowait(args))
            assert await asyncio.wait_for(acks.get(), TIMEOUT) == ("over websocket",)
        finally:
            await client.disconnect()

    asyncio.run(run())
