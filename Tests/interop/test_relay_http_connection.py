"""Raw HTTP/1.1 against Relay: what a kept-alive connection may carry, and requests over the
decoder's limits (issue 11, items 1 and 14). A plain `socket` client, so every byte is checked."""
import base64
import json
import os
import socket
import struct

import pytest

from relay_fixture import RelayServer

TIMEOUT = 5


@pytest.fixture(scope="module")
def server():
    srv = RelayServer()
    yield srv
    srv.stop()


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.port = port
        self.buffer = bytearray()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed; buffered {bytes(self.buffer)!r}")
        self.buffer += chunk

    def response(self):
        """Reads one response: (status, headers {lowercase: value}, body)."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        end = self.buffer.index(b"\r\n\r\n")
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        body = bytes(self.buffer[:length])
        del self.buffer[:length]
        return status, headers, body

    def get(self, target: str, extra: str = ""):
        self.send(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{extra}\r\n".encode())
        return self.response()

    def post(self, target: str, body: bytes):
        self.send(
            f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        return self.response()

    def read_frame(self):
        """One server WebSocket frame (unmasked, no fragmentation): (opcode, payload)."""
        while len(self.buffer) < 2:
            self._fill()
        opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
        offset = 2
        if length == 126:
            while len(self.buffer) < 4:
                self._fill()
            length, offset = struct.unpack("!H", self.buffer[2:4])[0], 4
        while len(self.buffer) < offset + length:
            self._fill()
        payload = bytes(self.buffer[offset : offset + length])
        del self.buffer[: offset + length]
        return opcode, payload

    def send_text(self, text: str):
        payload = text.encode()
        key = os.urandom(4)
        masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 126
        self.send(struct.pack("!BB", 0x81, 0x80 | len(payload)) + key + masked)

    def close(self):
        self.sock.close()


def upgrade_request(port: int, target: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def test_upgrade_after_polling_requests_on_the_same_connection(server):
    conn = Conn(server.port)
    try:
        status, headers, body = conn.get("/engine.io/?EIO=4&transport=polling")
        assert status == 200 and body.startswith(b"0{")
        sid = json.loads(body[1:])["sid"]
        polling = f"/engine.io/?EIO=4&transport=polling&sid={sid}"
        assert conn.post(polling, b"4hello")[2] == b"ok"
        assert conn.get(polling)[2] == b"4hello"
        # the third request on this TCP connection upgrades it
        conn.send(upgrade_request(server.port, f"/engine.io/?EIO=4&transport=websocket&sid={sid}"))
        status, headers, _ = conn.response()
        assert status == 101, headers
        assert headers["upgrade"].lower() == "websocket"
        conn.send_text("2probe")
        assert conn.read_frame() == (0x1, b"3probe")
        conn.send_text("5")
        conn.send_text("4over websocket")
        while True:
            opcode, payload = conn.read_frame()
            if payload == b"2":  # a ping may come first
                conn.send_text("3")
                continue
            assert (opcode, payload) == (0x1, b"4over websocket")
            break
        # polling is over for this session
        other = Conn(server.port)
        try:
            assert other.get(polling)[0] == 400
        finally:
            other.close()
    finally:
        conn.close()


def test_websocket_only_session_on_a_kept_alive_connection(server):
    conn = Conn(server.port)
    try:
        assert conn.get("/engine.io/?EIO=4&transport=polling")[0] == 200
        conn.send(upgrade_request(server.port, "/engine.io/?EIO=4&transport=websocket"))
        assert conn.response()[0] == 101
        opcode, payload = conn.read_frame()
        assert opcode == 0x1 and payload.startswith(b"0{")
        conn.send_text("4echo")
        while True:
            opcode, payload = conn.read_frame()
            if payload == b"2":
                conn.send_text("3")
                continue
            assert payload == b"4echo"
            break
    finally:
        conn.close()


def test_refused_upgrade_on_a_kept_alive_connection_gets_nodes_error(server):
    conn = Conn(server.port)
    try:
        assert conn.get("/engine.io/?EIO=4&transport=polling")[0] == 200
        conn.send(upgrade_request(server.port, "/engine.io/?EIO=4&transport=websocket&sid=unknown"))
        status, headers, body = conn.response()
        assert status == 400
        assert headers["connection"] == "close"
        assert json.loads(body) == {"code": 1, "message": "Session ID unknown"}
    finally:
        conn.close()


def read_until_closed(sock) -> bytes:
    """Everything the server writes until it closes; a reset instead of a close fails."""
    data = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(data)
        data += chunk


@pytest.mark.parametrize("first", [True, False], ids=["first-request", "kept-alive"])
def test_request_line_over_the_limit_gets_414(server, first):
    conn = Conn(server.port)
    try:
        if not first:
            assert conn.get("/engine.io/?EIO=4&transport=polling")[0] == 200
        conn.send(f"GET /engine.io/?x={'a' * 200_000} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
        status, headers, body = conn.response()
        assert status == 414
        assert headers["connection"] == "close"
        assert headers["content-type"] == "application/json"
        assert json.loads(body)["error"]["code"] == "uri_too_long"
        assert isinstance(json.loads(body)["error"]["message"], str)
        assert read_until_closed(conn.sock) == b""
    finally:
        conn.close()


@pytest.mark.parametrize("headers", [
    "X-Big: " + "b" * 200_000 + "\r\n",  # one field over the field limit
    "".join(f"X-H{i}: {'c' * 1000}\r\n" for i in range(200)),  # the list over its limit
], ids=["one-field", "many-fields"])
def test_headers_over_the_limit_get_431(server, headers):
    conn = Conn(server.port)
    try:
        conn.send(f"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n{headers}\r\n".encode())
        status, response_headers, body = conn.response()
        assert status == 431
        assert response_headers["connection"] == "close"
        assert json.loads(body) == {"error": {"code": "header_fields_too_large", "message": json.loads(body)["error"]["message"]}}
        assert read_until_closed(conn.sock) == b""
    finally:
        conn.close()


def masked_text(text: str) -> bytes:
    payload = text.encode()
    key = os.urandom(4)
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize("first", [True, False], ids=["first-request", "kept-alive"])
def test_frames_sent_with_the_upgrade_request_are_kept(server, first):
    """Frames that arrive in the same read as the upgrade request (before the 101) reach the
    WebSocket: the HTTP decoder hands them on when it leaves the pipeline."""
    conn = Conn(server.port)
    try:
        if not first:
            assert conn.get("/engine.io/?EIO=4&transport=polling")[0] == 200
        conn.send(upgrade_request(server.port, "/engine.io/?EIO=4&transport=websocket") + masked_text("4early"))
        assert conn.response()[0] == 101
        opcode, payload = conn.read_frame()
        assert payload.startswith(b"0{")
        while True:
            opcode, payload = conn.read_frame()
            if payload == b"2":
                conn.send_text("3")
                continue
            assert (opcode, payload) == (0x1, b"4early")
            break
    finally:
        conn.close()
