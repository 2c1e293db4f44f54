"""Identical answers are byte-identical (issue 11, item 11): every JSON object of every REST
response and every Socket.IO payload is written with its keys in one order (sorted by code
point), so a client that walks a payload, an ETag or a log line never sees the order change."""
import json
import uuid

import websocket


def keys_sorted_everywhere(text: str) -> list:
    """Returns the key lists of every object in `text` that is not sorted."""
    unsorted = []

    def hook(pairs):
        keys = [k for k, _ in pairs]
        if keys != sorted(keys):
            unsorted.append(keys)
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return unsorted


def test_rest_responses_have_sorted_keys_and_repeat_byte_for_byte(server):
    ann = server.new_user("ann")
    token = ann["accessToken"]
    room = server.api("POST", "/rooms", token, json={"name": f"det-{uuid.uuid4().hex[:6]}", "kind": "public", "topic": "t"}).json()
    for i in range(3):
        assert server.api("POST", f"/rooms/{room['id']}/messages", token, json={"body": f"m{i}", "clientMsgId": f"d{i}"}).status_code == 201
    requests_to_check = [
        ("GET", "/rooms", None),
        ("GET", f"/rooms/{room['id']}/messages", None),
        ("GET", f"/rooms/{room['id']}/members", None),
        ("GET", "/rooms/public", None),
        ("POST", "/auth/login", {"login": "nobody-" + uuid.uuid4().hex[:6], "password": "wrong password!"}),
        ("POST", "/rooms", {"name": "", "kind": "public"}),  # validation error with fields
    ]
    for method, path, body in requests_to_check:
        first = server.api(method, path, token, json=body) if body is not None else server.api(method, path, token)
        assert first.headers.get("content-type", "").startswith("application/json"), (path, first.status_code)
        assert keys_sorted_everywhere(first.text) == [], (method, path, first.text[:300])
        if method == "GET":
            again = server.api(method, path, token)
            assert again.content == first.content, path
    # a malformed body: the error shape itself
    bad = server.api("POST", "/rooms", token, data=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and keys_sorted_everywhere(bad.text) == []


def test_socketio_acks_events_and_connect_errors_have_sorted_keys(server):
    ann = server.new_user("ann")
    room = server.api("POST", "/rooms", ann["accessToken"], json={"name": f"det-{uuid.uuid4().hex[:6]}", "kind": "public"}).json()
    url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    refused = websocket.create_connection(url, timeout=10)
    assert refused.recv().startswith("0{")
    refused.send('40{"token":"not-a-token"}')
    error = refused.recv()
    assert error.startswith("44") and keys_sorted_everywhere(error[2:]) == [], error
    refused.close()

    ws = websocket.create_connection(url, timeout=10)
    assert ws.recv().startswith("0{")  # the Engine.IO handshake is a fixed template, in Node's key order
    ws.send("40" + json.dumps({"token": ann["accessToken"]}))
    frames = []

    def next_frame(prefix):
        while True:
            frame = ws.recv()
            if frame == "2":
                ws.send("3")
                continue
            frames.append(frame)
            if frame.startswith(prefix):
                return frame

    next_frame("40")
    ws.send("421" + json.dumps(["message:send", {"roomId": room["id"], "body": "hello", "clientMsgId": "k1"}]))
    ack = next_frame("431")
    assert '"ok":true' in ack
    ws.send("422" + json.dumps(["message:send", {"roomId": room["id"], "body": ""}]))
    failure = next_frame("432")
    assert '"ok":false' in failure
    for frame in frames:
        payload = frame[frame.index("["):] if "[" in frame else frame[frame.index("{"):]
        assert keys_sorted_everywhere(payload) == [], frame
    ws.close()
