"""RFC 6455 framing edge cases against Relay's Engine.IO WebSocket transport.

A raw WebSocket client written on the standard library `socket` module talks to the official-suite
fixture's `/engine.io/` echo endpoint (maxPayload 1,000,000 bytes, pingInterval 300 ms,
pingTimeout 200 ms), so every byte the server writes can be checked: the 101 handshake, frame
headers (FIN, RSV, mask bit, opcode, 7/16/64-bit lengths), control frames, close codes, the
payload limit, protocol errors and refused upgrades.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import time

import pytest

from relay_fixture import RelayServer

TIMEOUT = 5
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_PAYLOAD = 1_000_000

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


@pytest.fixture(scope="module")
def server():
    srv = RelayServer()
    yield srv
    srv.stop()


# ---------------------------------------------------------------------------
# A minimal raw WebSocket client
# ---------------------------------------------------------------------------


class Frame:
    """A frame as the server wrote it."""

    def __init__(self, fin, rsv, opcode, masked, length_form, payload):
        self.fin = fin
        self.rsv = rsv
        self.opcode = opcode
        self.masked = masked
        self.length_form = length_form  # 7, 16 or 64: how the payload length was encoded
        self.payload = payload

    def close_code(self):
        assert self.opcode == OP_CLOSE, self
        assert len(self.payload) >= 2, f"close frame without a status code: {self.payload!r}"
        return struct.unpack("!H", self.payload[:2])[0]

    def __repr__(self):
        head = self.payload[:40]
        return (
            f"Frame(fin={self.fin}, rsv={self.rsv}, opcode={self.opcode}, masked={self.masked}, "
            f"length_form={self.length_form}, len={len(self.payload)}, payload[:40]={head!r})"
        )


def mask_payload(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return b""
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")


def encode_frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, length: int | None = None) -> bytes:
    """A masked client frame. `length` overrides the announced payload length (for header-only sends)."""
    length = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    if length < 126:
        header = struct.pack("!BB", first, 0x80 | length)
    elif length <= 0xFFFF:
        header = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, length)
    key = os.urandom(4)
    return header + key + mask_payload(payload, key)


def read_http_head(sock: socket.socket, buffer: bytearray):
    """Reads an HTTP response head; returns (status, headers as {lowercased name: [values]})."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed before the response head; got {bytes(buffer)!r}")
        buffer += chunk
    end = buffer.index(b"\r\n\r\n")
    head = bytes(buffer[:end]).decode("latin-1")
    del buffer[: end + 4]
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    assert parts[0] == "HTTP/1.1", lines[0]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(parts[1]), headers


class WSClient:
    def __init__(self, port: int, query: str, path: str = "/engine.io/"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buffer = bytearray()
        self.key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path}?{query} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self.key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "\r\n"
        )
        self.sock.sendall(request.encode())
        self.status, self.headers = read_http_head(self.sock, self.buffer)

    def header(self, name: str):
        values = self.headers.get(name.lower(), [])
        assert len(values) == 1, f"{name}: {values}"
        return values[0]

    def read_body(self) -> bytes:
        length = int(self.header("content-length"))
        return self._recv_exact(length)

    def close(self):
        self.sock.close()

    # frames

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True, rsv: int = 0):
        self.sock.sendall(encode_frame(opcode, payload, fin=fin, rsv=rsv))

    def send_text(self, text: str):
        self.send_frame(OP_TEXT, text.encode())

    def _recv_exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise EOFError(f"connection closed with {len(self.buffer)} of {n} bytes read")
            self.buffer += chunk
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def read_raw_frame(self) -> Frame:
        first, second = self._recv_exact(2)
        length = second & 0x7F
        form = 7
        if length == 126:
            (length,) = struct.unpack("!H", self._recv_exact(2))
            form = 16
        elif length == 127:
            (length,) = struct.unpack("!Q", self._recv_exact(8))
            form = 64
        masked = bool(second & 0x80)
        key = self._recv_exact(4) if masked else None
        payload = self._recv_exact(length)
        if key is not None:
            payload = mask_payload(payload, key)
        return Frame(bool(first & 0x80), (first >> 4) & 0x7, first & 0x0F, masked, form, payload)

    def read_frame(self, timeout: float = TIMEOUT) -> Frame:
        """The next frame that is not an Engine.IO ping (`2`, answered with a `3` pong).

        Fails after `timeout` seconds even while the server keeps pinging."""
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no frame other than Engine.IO pings within {timeout} s")
            frame = self.read_raw_frame()
            assert frame.rsv == 0, frame
            assert not frame.masked, f"server frames must not be masked: {frame}"
            if frame.opcode == OP_TEXT and frame.fin and frame.payload == b"2":
                self.send_text("3")
                continue
            return frame

    def expect_close(self, code: int):
        """A close frame with exactly this status code (and no reason), then the server closes the TCP connection."""
        frame = self.read_frame()
        assert frame.opcode == OP_CLOSE, f"expected a close frame, got {frame}"
        assert frame.fin, frame
        assert frame.payload == struct.pack("!H", code), f"expected close {code}, got {frame} (code {frame.close_code()})"
        self.expect_eof()

    def expect_eof(self):
        assert not self.buffer, f"bytes after the end: {bytes(self.buffer)!r}"
        assert self.sock.recv(65536) == b"", "server did not close the TCP connection"


def open_ws(server, query: str = "EIO=4&transport=websocket") -> tuple[WSClient, dict]:
    """A WebSocket-only Engine.IO session: returns the client and the decoded open packet."""
    ws = WSClient(server.port, query)
    assert ws.status == 101, ws.headers
    frame = ws.read_frame()
    assert frame.opcode == OP_TEXT and frame.fin, frame
    assert frame.payload.startswith(b"0{"), frame
    return ws, json.loads(frame.payload[1:])


def echo_text(ws: WSClient, text: str) -> Frame:
    ws.send_text(text)
    frame = ws.read_frame()
    assert frame.opcode == OP_TEXT and frame.fin, frame
    assert frame.payload == text.encode(), frame
    return frame


def expected_form(length: int) -> int:
    return 7 if length < 126 else 16 if length <= 0xFFFF else 64


# ---------------------------------------------------------------------------
# 1. Handshake and open packet
# ---------------------------------------------------------------------------


def test_handshake_accept_and_open_packet(server):
    ws = WSClient(server.port, "EIO=4&transport=websocket")
    try:
        assert ws.status == 101
        assert ws.header("upgrade").lower() == "websocket"
        assert ws.header("connection").lower() == "upgrade"
        expected = base64.b64encode(hashlib.sha1((ws.key + GUID).encode()).digest()).decode()
        assert ws.header("sec-websocket-accept") == expected

        frame = ws.read_raw_frame()
        assert frame.fin and frame.rsv == 0 and not frame.masked
        assert frame.opcode == OP_TEXT
        assert frame.length_form == expected_form(len(frame.payload))
        assert frame.payload.startswith(b"0{")
        handshake = json.loads(frame.payload[1:])
        assert isinstance(handshake["sid"], str) and handshake["sid"]
        assert handshake["upgrades"] == []
        assert handshake["pingInterval"] == 300
        assert handshake["pingTimeout"] == 200
        assert handshake["maxPayload"] == MAX_PAYLOAD
    finally:
        ws.close()


def test_handshake_known_rfc_vector(server):
    """RFC 6455 section 1.3's example key must give its example accept value."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    try:
        sock.sendall(
            (
                "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        status, headers = read_http_head(sock, bytearray())
        assert status == 101
        assert headers["sec-websocket-accept"] == ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]
    finally:
        sock.close()


# ---------------------------------------------------------------------------
# 2. Payload length encodings
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", [10, 125, 126, 300, 65535, 65536, 70_000])
def test_text_echo_length_forms(server, length):
    ws, _ = open_ws(server)
    try:
        body = "".join(chr(ord("a") + i % 26) for i in range(length - 1))
        text = "4" + body
        assert len(text.encode()) == length
        ws.send_text(text)
        frame = ws.read_frame()
        assert frame.fin and frame.opcode == OP_TEXT
        assert frame.length_form == expected_form(length), frame
        assert len(frame.payload) == length
        assert frame.payload == text.encode()
        # and the session is still usable
        echo_text(ws, "4after")
    finally:
        ws.close()


@pytest.mark.parametrize("length", [10, 300, 70_000])
def test_binary_echo_length_forms(server, length):
    ws, _ = open_ws(server)
    try:
        data = os.urandom(length)
        ws.send_frame(OP_BINARY, data)
        frame = ws.read_frame()
        assert frame.fin and frame.opcode == OP_BINARY, frame
        assert frame.length_form == expected_form(length), frame
        assert frame.payload == data
    finally:
        ws.close()


def test_payload_of_exactly_max_payload_is_accepted(server):
    ws, _ = open_ws(server)
    try:
        text = "4" + "z" * (MAX_PAYLOAD - 1)
        ws.send_text(text)
        frame = ws.read_frame()
        assert frame.opcode == OP_TEXT and frame.fin and frame.length_form == 64
        assert frame.payload == text.encode()
    finally:
        ws.close()


# ---------------------------------------------------------------------------
# 3. Fragmented messages
# ---------------------------------------------------------------------------


def test_fragmented_text_is_reassembled(server):
    ws, _ = open_ws(server)
    try:
        ws.send_frame(OP_TEXT, b"4hel", fin=False)
        ws.send_frame(OP_CONTINUATION, b"lo, ", fin=False)
        ws.send_frame(OP_CONTINUATION, b"", fin=False)
        ws.send_frame(OP_CONTINUATION, "wörld".encode(), fin=True)
        frame = ws.read_frame()
        assert frame.fin and frame.opcode == OP_TEXT, frame
        assert frame.payload == "4hello, wörld".encode()
        echo_text(ws, "4next")
    finally:
        ws.close()


def test_fragmented_binary_is_reassembled(server):
    ws, _ = open_ws(server)
    try:
        parts = [os.urandom(100), os.urandom(70_000), os.urandom(1)]
        ws.send_frame(OP_BINARY, parts[0], fin=False)
        ws.send_frame(OP_CONTINUATION, parts[1], fin=False)
        ws.send_frame(OP_CONTINUATION, parts[2], fin=True)
        frame = ws.read_frame()
        assert frame.fin and frame.opcode == OP_BINARY, frame
        assert frame.length_form == 64
        assert frame.payload == b"".join(parts)
    finally:
        ws.close()


def test_ping_between_fragments_is_answered_and_message_completes(server):
    """Control frames may be interleaved with a fragmented message (RFC 6455, section 5.4)."""
    ws, _ = open_ws(server)
    try:
        ws.send_frame(OP_TEXT, b"4frag", fin=False)
        ws.send_frame(OP_PING, b"mid")
        pong = ws.read_frame()
        assert pong.opcode == OP_PONG and pong.fin and pong.payload == b"mid", pong
        ws.send_frame(OP_CONTINUATION, b"mented", fin=True)
        frame = ws.read_frame()
        assert frame.opcode == OP_TEXT and frame.fin and frame.payload == b"4fragmented", frame
    finally:
        ws.close()


def test_fragmented_total_of_exactly_max_payload_is_accepted(server):
    ws, _ = open_ws(server)
    try:
        half = MAX_PAYLOAD // 2
        ws.send_frame(OP_TEXT, b"4" + b"a" * (half - 1), fin=False)
        ws.send_frame(OP_CONTINUATION, b"b" * half, fin=True)
        frame = ws.read_frame()
        assert frame.opcode == OP_TEXT and frame.fin, frame
        assert frame.payload == b"4" + b"a" * (half - 1) + b"b" * half
    finally:
        ws.close()


# ---------------------------------------------------------------------------
# 4. WebSocket ping / pong
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"are you there?", bytes(range(125))])
def test_ping_gets_pong_with_same_payload(server, payload):
    ws, _ = open_ws(server)
    try:
        ws.send_frame(OP_PING, payload)
        frame = ws.read_frame()
        assert frame.opcode == OP_PONG and frame.fin, frame
        assert frame.length_form == 7
        assert frame.payload == payload
        echo_text(ws, "4still here")
    finally:
        ws.close()


def test_unsolicited_pong_is_ignored(server):
    ws, _ = open_ws(server)
    try:
        ws.send_frame(OP_PONG, b"unsolicited")
        echo_text(ws, "4ok")
    finally:
        ws.close()


# ---------------------------------------------------------------------------
# 5. Client-initiated close
# ---------------------------------------------------------------------------


def test_client_close_is_answered_then_connection_closed(server):
    ws, _ = open_ws(server)
    try:
        echo_text(ws, "4before")
        ws.send_frame(OP_CLOSE, struct.pack("!H", 1000))
        ws.expect_close(1000)
    finally:
        ws.close()


def test_client_close_with_reason_is_answered(server):
    ws, _ = open_ws(server)
    try:
        ws.send_frame(OP_CLOSE, struct.pack("!H", 1001) + b"going away")
        ws.expect_close(1001)
    finally:
        ws.close()


# ---------------------------------------------------------------------------
# 6. maxPayload
# ---------------------------------------------------------------------------


def test_single_frame_over_max_payload_closes_1009(server):
    ws, _ = open_ws(server)
    try:
        # Only the header (with its masking key) is sent: the server must refuse the frame on its
        # announced length alone, before any of the 1,000,100 payload bytes arrive. (Sending the
        # payload too would race the server's close: unread bytes make the kernel reset the
        # connection, which can discard the close frame before this client reads it.)
        ws.sock.sendall(encode_frame(OP_TEXT, b"", length=MAX_PAYLOAD + 100))
        ws.expect_close(1009)
    finally:
        ws.close()


def test_fragmented_message_over_max_payload_closes_1009(server):
    ws, _ = open_ws(server)
    try:
        ws.send_frame(OP_TEXT, b"4" + b"a" * 599_999, fin=False)
        ws.send_frame(OP_CONTINUATION, b"b" * 600_000, fin=True)
        ws.expect_close(1009)
    finally:
        ws.close()


# ---------------------------------------------------------------------------
# 7. Protocol errors
# ---------------------------------------------------------------------------


def send_orphan_continuation(ws):
    ws.send_frame(OP_CONTINUATION, b"4orphan", fin=True)


def send_text_during_fragmented_message(ws):
    ws.send_frame(OP_TEXT, b"4first", fin=False)
    ws.send_frame(OP_TEXT, b"4second", fin=True)


def send_binary_during_fragmented_message(ws):
    ws.send_frame(OP_BINARY, b"\x01\x02", fin=False)
    ws.send_frame(OP_BINARY, b"\x03", fin=True)


def send_unknown_data_opcode(ws):
    ws.send_frame(0x3, b"4reserved", fin=True)


def send_unknown_control_opcode(ws):
    ws.send_frame(0xB, b"", fin=True)


def send_fragmented_ping(ws):
    ws.send_frame(OP_PING, b"half", fin=False)


def send_oversized_ping(ws):
    ws.send_frame(OP_PING, b"p" * 126)


@pytest.mark.parametrize(
    "send",
    [
        send_orphan_continuation,
        send_text_during_fragmented_message,
        send_binary_during_fragmented_message,
        send_unknown_data_opcode,
        send_unknown_control_opcode,
        send_fragmented_ping,
        send_oversized_ping,
    ],
)
def test_protocol_error_closes_1002(server, send):
    ws, _ = open_ws(server)
    try:
        send(ws)
        ws.expect_close(1002)
    finally:
        ws.close()


# ---------------------------------------------------------------------------
# 8. Invalid Engine.IO packet
# ---------------------------------------------------------------------------


def test_invalid_engine_packet_ends_session(server):
    ws, _ = open_ws(server)
    try:
        ws.send_text("x")
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                frame = ws.read_frame()
            except EOFError:
                assert not ws.buffer
                return  # closed without a close frame
            if frame.opcode == OP_CLOSE:
                frame.close_code()  # a well-formed close frame
                ws.expect_eof()
                return
            pytest.fail(f"unexpected frame after an invalid packet: {frame}")
        pytest.fail("session not closed")
    finally:
        ws.close()


# ---------------------------------------------------------------------------
# 9. Second WebSocket for a sid already on WebSocket
# ---------------------------------------------------------------------------


def test_second_websocket_for_same_sid_is_closed(server):
    first, handshake = open_ws(server)
    try:
        sid = handshake["sid"]
        second = WSClient(server.port, f"EIO=4&transport=websocket&sid={sid}")
        try:
            assert second.status == 101, second.headers
            second.expect_close(1008)
        finally:
            second.close()
        echo_text(first, "4first still works")
        first.send_frame(OP_BINARY, b"\x00\xff")
        frame = first.read_frame()
        assert frame.opcode == OP_BINARY and frame.payload == b"\x00\xff", frame
    finally:
        first.close()


# ---------------------------------------------------------------------------
# 10. Refused upgrades
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, body",
    [
        ("EIO=3&transport=websocket", {"code": 5, "message": "Unsupported protocol version"}),
        ("EIO=4&transport=websocket&sid=not-a-session", {"code": 1, "message": "Session ID unknown"}),
    ],
)
def test_refused_upgrade(server, query, body):
    ws = WSClient(server.port, query)
    try:
        assert ws.status == 400, ws.headers
        assert ws.header("connection").lower() == "close"
        assert ws.header("content-type") == "application/json"
        assert "sec-websocket-accept" not in ws.headers
        raw = ws.read_body()
        assert json.loads(raw) == body
        assert raw == json.dumps(body, separators=(",", ":")).encode()
        ws.expect_eof()
    finally:
        ws.close()


# ---------------------------------------------------------------------------
# 11. RFC 6455 strictness: RSV bits, masking, UTF-8 text, client close frames
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("rsv", [0b100, 0b010, 0b001], ids=["RSV1", "RSV2", "RSV3"])
def test_rsv_bit_without_extension_closes_1002(server, rsv):
    """No extension is negotiated, so any RSV bit fails the connection (RFC 6455, section 5.2)."""
    ws, _ = open_ws(server)
    try:
        echo_text(ws, "4before")
        ws.send_frame(OP_TEXT, b"4rsv", rsv=rsv)
        ws.expect_close(1002)
    finally:
        ws.close()


def test_unmasked_client_frame_closes_1002(server):
    """A client frame without the mask bit fails the connection (RFC 6455, section 5.1)."""
    ws, _ = open_ws(server)
    try:
        echo_text(ws, "4before")
        ws.sock.sendall(bytes.fromhex("8104") + b"4unm")  # FIN + text, unmasked, length 4
        ws.expect_close(1002)
    finally:
        ws.close()


@pytest.mark.parametrize(
    "payload",
    [b"4\xff\xfe", b"4\xc3", b"4\xc0\xaf", b"4\xed\xa0\x80", b"4ok\xf4\x90\x80\x80"],
    ids=["ff-fe", "truncated", "overlong", "surrogate", "above-U+10FFFF"],
)
def test_text_frame_with_invalid_utf8_closes_1007(server, payload):
    """A text message that is not valid UTF-8 fails the connection with 1007 (RFC 6455, section 8.1)."""
    ws, _ = open_ws(server)
    try:
        ws.send_frame(OP_TEXT, payload)
        ws.expect_close(1007)
    finally:
        ws.close()


def test_multibyte_utf8_text_is_echoed_byte_identically(server):
    ws, _ = open_ws(server)
    try:
        frame = echo_text(ws, "4héllo ✓")
        assert frame.payload == b"4h\xc3\xa9llo \xe2\x9c\x93"
        echo_text(ws, "4😀 ✓ é")
    finally:
        ws.close()


def test_fragments_splitting_multibyte_characters_are_accepted(server):
    """UTF-8 is checked on the whole message: a character may straddle fragment boundaries."""
    ws, _ = open_ws(server)
    try:
        text = "4héllo ✓".encode()  # 34 68 c3|a9 6c 6c 6f 20 e2 9c|93
        ws.send_frame(OP_TEXT, text[:3], fin=False)  # ends inside "é"
        ws.send_frame(OP_CONTINUATION, text[3:10], fin=False)  # ends inside "✓"
        ws.send_frame(OP_CONTINUATION, text[10:], fin=True)
        frame = ws.read_frame()
        assert frame.opcode == OP_TEXT and frame.fin, frame
        assert frame.payload == text, frame
        echo_text(ws, "4next")
    finally:
        ws.close()


@pytest.mark.parametrize(
    "payload, expected",
    [
        pytest.param(b"\x03", 1002, id="1-byte-payload"),
        pytest.param(struct.pack("!H", 999), 1002, id="code-999"),
        pytest.param(struct.pack("!H", 1005), 1002, id="code-1005"),
        pytest.param(struct.pack("!H", 1006), 1002, id="code-1006"),
        pytest.param(struct.pack("!H", 5000), 1002, id="code-5000"),
        pytest.param(struct.pack("!H", 1000), 1000, id="code-1000"),
        pytest.param(struct.pack("!H", 4000), 4000, id="code-4000"),
        pytest.param(struct.pack("!H", 1001) + "au revoir ✓".encode(), 1001, id="code-1001-utf8-reason"),
        pytest.param(b"\x03\xe8\xff", 1002, id="code-1000-invalid-utf8-reason"),
    ],
)
def test_client_close_frame_codes(server, payload, expected):
    """Valid close codes are echoed; a 1-byte payload, a code a peer may not send (RFC 6455,
    section 7.4) or a reason that is not UTF-8 is answered with 1002. The connection then ends."""
    ws, _ = open_ws(server)
    try:
        echo_text(ws, "4before")
        ws.send_frame(OP_CLOSE, payload)
        ws.expect_close(expected)
    finally:
        ws.close()


# ---------------------------------------------------------------------------
# 11. Server-initiated closes reach the client with input still in flight
# ---------------------------------------------------------------------------
# The server writes its close frame, closes only its write side and reads (and discards) what
# the client still sends until the client closes. Were it to close the TCP connection with
# input unread, the kernel would answer with a reset, and the client would see ECONNRESET /
# 1006 instead of the close code (issue 11, item 5).

TRAILING = 512 * 1024  # bytes the client is still sending when the server decides to close


def trailing_frames() -> bytes:
    """Valid masked frames the client sends after the offending input (the server must drain them)."""
    chunk = encode_frame(OP_TEXT, b"4" + b"t" * 60_000)
    return chunk * (TRAILING // len(chunk) + 1)


def expect_close_without_reset(ws: WSClient, code: int):
    try:
        ws.expect_close(code)
    except ConnectionResetError as error:  # pragma: no cover - the failure this test is about
        pytest.fail(f"connection reset instead of close {code}: {error}")


def test_oversized_message_sent_in_full_gets_1009(server):
    ws, _ = open_ws(server)
    try:
        # the whole message, payload included, then more: all of it unread when the server refuses
        ws.sock.sendall(encode_frame(OP_TEXT, b"4" + b"x" * (MAX_PAYLOAD + 100)) + trailing_frames())
        expect_close_without_reset(ws, 1009)
    finally:
        ws.close()


def test_oversized_fragmented_message_with_input_in_flight_gets_1009(server):
    ws, _ = open_ws(server)
    try:
        ws.sock.sendall(
            encode_frame(OP_TEXT, b"4" + b"a" * 599_999, fin=False)
            + encode_frame(OP_CONTINUATION, b"b" * 600_000, fin=True)
            + trailing_frames()
        )
        expect_close_without_reset(ws, 1009)
    finally:
        ws.close()


@pytest.mark.parametrize(
    "offending, code",
    [
        (struct.pack("!BB", 0x81, 5) + b"4abcd", 1002),  # unmasked client frame
        (encode_frame(OP_TEXT, b"4\xff\xfe"), 1007),  # text that is not UTF-8
        (encode_frame(OP_CONTINUATION, b"4orphan"), 1002),  # continuation without a start
    ],
    ids=["1002-unmasked", "1007-not-utf8", "1002-orphan-continuation"],
)
def test_protocol_error_with_input_in_flight_gets_its_code(server, offending, code):
    ws, _ = open_ws(server)
    try:
        ws.sock.sendall(offending + trailing_frames())
        expect_close_without_reset(ws, code)
    finally:
        ws.close()


def test_refused_second_websocket_with_input_in_flight_gets_1008(server):
    first, handshake = open_ws(server)
    try:
        second = WSClient(server.port, f"EIO=4&transport=websocket&sid={handshake['sid']}")
        try:
            assert second.status == 101, second.headers
            second.sock.sendall(trailing_frames())
            expect_close_without_reset(second, 1008)
        finally:
            second.close()
    finally:
        first.close()


@pytest.mark.parametrize("offending", [b"4not an upgrade step", b"xyz"], ids=["unexpected-packet", "undecodable"])
def test_aborted_probe_with_input_in_flight_gets_1000(server, offending):
    """A probe the server gives up on (a packet that is not part of the upgrade, or not Engine.IO)
    is closed with a close frame that arrives; polling carries on."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/engine.io/?EIO=4&transport=polling", timeout=TIMEOUT) as r:
        sid = json.loads(r.read()[1:])["sid"]
    probe = WSClient(server.port, f"EIO=4&transport=websocket&sid={sid}")
    try:
        assert probe.status == 101, probe.headers
        probe.sock.sendall(encode_frame(OP_TEXT, offending) + trailing_frames())
        expect_close_without_reset(probe, 1000)
    finally:
        probe.close()
    polling = f"http://127.0.0.1:{server.port}/engine.io/?EIO=4&transport=polling&sid={sid}"
    with urllib.request.urlopen(urllib.request.Request(polling, data=b"4still polling"), timeout=TIMEOUT) as r:
        assert r.read() == b"ok"
    with urllib.request.urlopen(polling, timeout=TIMEOUT) as r:
        assert r.read() == b"4still polling"
