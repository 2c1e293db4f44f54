"""The chat over Socket.IO with the real python-socketio client (PyPI)."""
import time
import uuid

import pytest
import socketio

from chat_client import Tab, tabs_fixture
from switchboard_fixture import Switchboard


TAB_EVENTS = ("message:new", "room:member", "read", "typing", "presence", "auth:token", "room:deleted")
tabs = tabs_fixture(*TAB_EVENTS)


def create_room(server, token, name=None, kind="public", password=None):
    r = server.api("POST", "/rooms", token, json={"name": name or f"room-{uuid.uuid4().hex[:6]}", "kind": kind, "password": password})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize("transports", [("websocket",), ("polling",)])
def test_two_users_see_each_others_messages_live(server, tabs, transports):
    ann, bob = server.new_user("ann"), server.new_user("bob")
    room = create_room(server, ann["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", bob["accessToken"]).status_code == 200
    a = tabs(server, ann["accessToken"], transports)
    b = tabs(server, bob["accessToken"], transports)

    ack = a.call("message:send", {"roomId": room["id"], "body": "hello bob", "clientMsgId": "a-1"})
    assert ack["ok"] is True and ack["message"]["body"] == "hello bob" and isinstance(ack["message"]["id"], int)
    got = b.wait_for("message:new", lambda m: m["body"] == "hello bob")
    assert got["roomId"] == room["id"] and got["authorId"] == ann["user"]["id"] and got["author"]["username"] == ann["user"]["username"]

    ack = b.call("message:send", {"roomId": room["id"], "body": "hi ann", "clientMsgId": "b-1"})
    assert ack["ok"] is True
    a.wait_for("message:new", lambda m: m["body"] == "hi ann")


def test_offline_user_sees_unread_counts_at_login_and_zero_after_reading(server, tabs):
    ann, carol = server.new_user("ann"), server.new_user("carol")
    room = create_room(server, ann["accessToken"])
    server.api("POST", f"/rooms/{room['id']}/join", carol["accessToken"])
    a = tabs(server, ann["accessToken"])
    last = None
    for i in range(3):
        last = a.call("message:send", {"roomId": room["id"], "body": f"m{i}", "clientMsgId": f"c{i}"})["message"]

    carol = server.login(carol["user"]["username"])  # logs in later
    rooms = server.api("GET", "/rooms", carol["accessToken"]).json()["rooms"]
    mine = next(r for r in rooms if r["id"] == room["id"])
    assert mine["unreadCount"] == 3 and mine["lastMessage"]["body"] == "m2"

    r = server.api("POST", f"/rooms/{room['id']}/read", carol["accessToken"], json={"messageId": last["id"]})
    assert r.status_code == 200 and r.json()["unreadCount"] == 0
    rooms = server.api("GET", "/rooms", carol["accessToken"]).json()["rooms"]
    assert next(r for r in rooms if r["id"] == room["id"])["unreadCount"] == 0


def test_second_tab_of_the_same_user_gets_read(server, tabs):
    ann, bob = server.new_user("ann"), server.new_user("bob")
    room = create_room(server, ann["accessToken"])
    server.api("POST", f"/rooms/{room['id']}/join", bob["accessToken"])
    a = tabs(server, ann["accessToken"])
    b1 = tabs(server, bob["accessToken"])
    b2 = tabs(server, bob["accessToken"])
    message = a.call("message:send", {"roomId": room["id"], "body": "read me", "clientMsgId": "x"})["message"]
    b1.wait_for("message:new", lambda m: m["id"] == message["id"])
    ack = b1.call("room:read", {"roomId": room["id"], "messageId": message["id"]})
    assert ack["ok"] is True and ack["read"]["unreadCount"] == 0
    read = b2.wait_for("read", lambda r: r["roomId"] == room["id"])
    assert read["lastReadMessageId"] == message["id"] and read["unreadCount"] == 0


def test_non_member_is_refused(server, tabs):
    ann, eve = server.new_user("ann"), server.new_user("eve")
    room = create_room(server, ann["accessToken"], kind="private")
    e = tabs(server, eve["accessToken"])
    ack = e.call("message:send", {"roomId": room["id"], "body": "let me in", "clientMsgId": "e"})
    assert ack == {"ok": False, "error": {"code": "not_a_member", "message": ack["error"]["message"]}}
    r = server.api("GET", f"/rooms/{room['id']}/messages", eve["accessToken"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"
    bad = e.call("message:send", {"nonsense": True})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_payload"


def test_client_msg_id_retries_do_not_duplicate(server, tabs):
    ann = server.new_user("ann")
    room = create_room(server, ann["accessToken"])
    a = tabs(server, ann["accessToken"])
    first = a.call("message:send", {"roomId": room["id"], "body": "once", "clientMsgId": "retry-1"})
    again = a.call("message:send", {"roomId": room["id"], "body": "once", "clientMsgId": "retry-1"})
    assert first["message"]["id"] == again["message"]["id"] and again["duplicate"] is True
    history = server.api("GET", f"/rooms/{room['id']}/messages", ann["accessToken"]).json()["messages"]
    assert [m["body"] for m in history] == ["once"]


def test_revoked_session_is_disconnected(server, tabs):
    ann = server.new_user("ann")
    other = server.login(ann["user"]["username"])
    doomed = tabs(server, ann["accessToken"])
    survivor = tabs(server, other["accessToken"])
    started = time.monotonic()
    assert server.api("POST", "/auth/logout", ann["accessToken"]).status_code == 204
    assert doomed.disconnected.wait(2.0), "the revoked session's socket stayed connected"
    assert time.monotonic() - started < 1.5
    time.sleep(0.3)
    assert survivor.client.connected


def test_bad_tokens_get_connect_error_with_a_code(server):
    for token, code in (("not-a-jwt", "invalid_token"), ("", "invalid_token")):
        client = socketio.Client(reconnection=False)
        errors = []
        client.on("connect_error", lambda data: errors.append(data))
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(server.url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
        # The CONNECT_ERROR payload is {message, data}: JS clients see err.message and err.data.
        assert errors and errors[0]["message"] == code and errors[0]["data"]["code"] == code, errors


def test_history_pagination_walks_all_messages(server, tabs):
    ann = server.new_user("ann")
    room = create_room(server, ann["accessToken"])
    a = tabs(server, ann["accessToken"])
    sent = [a.call("message:send", {"roomId": room["id"], "body": f"p{i}", "clientMsgId": f"p{i}"})["message"]["id"] for i in range(45)]
    seen, before = [], None
    while True:
        query = {"limit": 10} | ({"before": before} if before else {})
        page = server.api("GET", f"/rooms/{room['id']}/messages", ann["accessToken"], params=query).json()
        seen = [m["id"] for m in page["messages"]] + seen
        if not page["hasMore"]:
            break
        before = page["messages"][0]["id"]
    assert seen == sent


def test_origin_check_refuses_foreign_browsers(server):
    ann = server.new_user("ann")
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server.url, auth={"token": ann["accessToken"]}, transports=["websocket"],
                       headers={"Origin": "https://evil.example"}, wait_timeout=5)


def test_token_near_expiry_gets_auth_token_and_expired_tokens_are_refused():
    short = Switchboard(ACCESS_TOKEN_TTL="30")
    try:
        ann = short.new_user("ann")
        room = create_room(short, ann["accessToken"])
        tab = Tab(short, ann["accessToken"], TAB_EVENTS)
        try:
            # 30 s tokens are always inside the refresh window: the first event brings a fresh token.
            assert tab.call("message:send", {"roomId": room["id"], "body": "hi", "clientMsgId": "t1"})["ok"]
            pushed = tab.wait_for("auth:token")
            assert pushed["accessToken"] != ann["accessToken"] and pushed["expiresAt"]
            assert short.api("GET", "/me", pushed["accessToken"]).status_code == 200
        finally:
            tab.close()
        # A socket that stays quiet past expiry is refused with token_expired, and auth:refresh recovers it.
        quiet = Tab(short, ann["accessToken"], TAB_EVENTS)
        try:
            time.sleep(31)
            ack = quiet.call("message:send", {"roomId": room["id"], "body": "late", "clientMsgId": "t2"})
            assert ack["ok"] is False and ack["error"]["code"] == "token_expired"
            fresh = short.api("POST", "/auth/refresh", json={"refreshToken": ann["refreshToken"]}).json()
            assert quiet.call("auth:refresh", {"token": fresh["accessToken"]})["ok"] is True
            assert quiet.call("message:send", {"roomId": room["id"], "body": "late", "clientMsgId": "t2"})["ok"] is True
        finally:
            quiet.close()
    finally:
        short.stop()
