"""Room moderation (issue 16) with the real python-socketio client against the real server:
the deltas, a muted member's refused send, a kick that takes the member's socket out of the
room at once, bans that keep a user out, the last owner's refusal and the audit log."""
import uuid

from chat_client import create_room, tabs_fixture

MODERATION_EVENTS = ("member:role", "member:kicked", "member:muted", "member:unmuted", "member:banned", "member:unbanned")


tabs = tabs_fixture("message:new", "room:member", *MODERATION_EVENTS)


def join(server, token, room):
    return server.api("POST", f"/rooms/{room['id']}/join", token)


def send(tab, room, body):
    return tab.call("message:send", {"roomId": room["id"], "body": body, "clientMsgId": uuid.uuid4().hex})


def test_a_muted_member_is_refused_with_the_seconds_left_and_the_room_hears_it(server, tabs):
    ann, bob = server.new_user("ann"), server.new_user("bob")
    room = create_room(server, ann["accessToken"])
    assert join(server, bob["accessToken"], room).status_code == 200
    a, b = tabs(server, ann["accessToken"]), tabs(server, bob["accessToken"])
    assert send(b, room, "before")["ok"] is True

    r = server.api("POST", f"/rooms/{room['id']}/mutes", ann["accessToken"], json={"userId": bob["user"]["id"], "durationSeconds": 600, "reason": "cool off"})
    assert r.status_code == 201, r.text
    for tab in (a, b):
        event = tab.wait_for("member:muted", lambda e: e["user"]["id"] == bob["user"]["id"])
        assert event["roomId"] == room["id"] and event["by"]["id"] == ann["user"]["id"]
        assert event["durationSeconds"] == 600 and event["reason"] == "cool off" and event["until"].endswith("Z")

    ack = send(b, room, "let me speak")
    assert ack["ok"] is False and ack["error"]["code"] == "muted", ack
    assert 590 <= ack["error"]["retryAfter"] <= 600, ack
    # over REST too, with Retry-After
    r = server.api("POST", f"/rooms/{room['id']}/messages", bob["accessToken"], json={"body": "rest"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "muted"
    assert 590 <= int(r.headers["Retry-After"]) <= 600 and r.json()["error"]["retryAfter"] == int(r.headers["Retry-After"])
    assert send(a, room, "the owner still talks")["ok"] is True

    # bad durations change nothing
    for seconds in (0, -1, 10**9):
        r = server.api("POST", f"/rooms/{room['id']}/mutes", ann["accessToken"], json={"userId": bob["user"]["id"], "durationSeconds": seconds})
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed", r.text
    mutes = server.api("GET", f"/rooms/{room['id']}/mutes", ann["accessToken"]).json()["mutes"]
    assert [m["user"]["id"] for m in mutes] == [bob["user"]["id"]] and 590 <= mutes[0]["remainingSeconds"] <= 600

    assert server.api("DELETE", f"/rooms/{room['id']}/mutes/{bob['user']['id']}", ann["accessToken"]).status_code == 204
    a.wait_for("member:unmuted", lambda e: e["user"]["id"] == bob["user"]["id"])
    assert send(b, room, "thanks")["ok"] is True
    assert "let me speak" not in a.bodies() and "rest" not in a.bodies()


def test_a_kicked_members_socket_leaves_the_room_at_once(server, tabs):
    ann, bob = server.new_user("ann"), server.new_user("bob")
    room, other = create_room(server, ann["accessToken"]), create_room(server, ann["accessToken"])
    for r in (room, other):
        assert join(server, bob["accessToken"], r).status_code == 200
    a, b = tabs(server, ann["accessToken"]), tabs(server, bob["accessToken"])
    assert send(a, room, "hello everyone")["ok"] is True
    b.wait_for("message:new", lambda m: m["body"] == "hello everyone")

    r = server.api("DELETE", f"/rooms/{room['id']}/members/{bob['user']['id']}?reason=spamming", ann["accessToken"])
    assert r.status_code == 204, r.text
    kicked = b.wait_for("member:kicked", lambda e: e["roomId"] == room["id"])
    assert kicked["user"]["id"] == bob["user"]["id"] and kicked["by"]["id"] == ann["user"]["id"] and kicked["reason"] == "spamming"
    b.wait_for("room:member", lambda e: e["roomId"] == room["id"] and e["change"] == "removed" and e["user"]["id"] == bob["user"]["id"])
    a.wait_for("member:kicked", lambda e: e["user"]["id"] == bob["user"]["id"])

    # The room's next message does not reach bob's socket: a message in another room, sent
    # after it (each ack leaves after this node delivered its event, in log order), arrives
    # alone, so the first was not delivered to him.
    assert send(a, room, "after the kick")["ok"] is True
    assert send(a, other, "marker")["ok"] is True
    b.wait_for("message:new", lambda m: m["body"] == "marker")
    assert "after the kick" not in b.bodies()
    ack = send(b, room, "I am still here?")
    assert ack["ok"] is False and ack["error"]["code"] == "not_a_member"
    # a kick is not a ban: he may come back
    assert join(server, bob["accessToken"], room).status_code == 200


def test_a_ban_removes_keeps_out_and_is_lifted_roles_change_and_the_audit_log_records_it(server, tabs):
    ann, bob, mod = server.new_user("ann"), server.new_user("bob"), server.new_user("mod")
    room = create_room(server, ann["accessToken"])
    for user in (bob, mod):
        assert join(server, user["accessToken"], room).status_code == 200
    a, b = tabs(server, ann["accessToken"]), tabs(server, bob["accessToken"])

    r = server.api("PUT", f"/rooms/{room['id']}/members/{mod['user']['id']}/role", ann["accessToken"], json={"role": "moderator"})
    assert r.status_code == 200 and r.json()["event"]["role"] == "moderator", r.text
    b.wait_for("member:role", lambda e: e["user"]["id"] == mod["user"]["id"] and e["role"] == "moderator")
    # a moderator may not make moderators, nor act on the owner; a member may not ban
    r = server.api("PUT", f"/rooms/{room['id']}/members/{bob['user']['id']}/role", mod["accessToken"], json={"role": "moderator"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_room_admin"
    r = server.api("POST", f"/rooms/{room['id']}/bans", mod["accessToken"], json={"userId": ann["user"]["id"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "cannot_act_on_peer"
    r = server.api("POST", f"/rooms/{room['id']}/bans", bob["accessToken"], json={"userId": mod["user"]["id"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_room_moderator"

    r = server.api("POST", f"/rooms/{room['id']}/bans", mod["accessToken"], json={"userId": bob["user"]["id"], "reason": "trolling"})
    assert r.status_code == 201, r.text
    banned = b.wait_for("member:banned", lambda e: e["roomId"] == room["id"])
    assert banned["reason"] == "trolling" and banned["by"]["id"] == mod["user"]["id"]
    b.wait_for("room:member", lambda e: e["change"] == "removed" and e["user"]["id"] == bob["user"]["id"])
    a.wait_for("member:banned", lambda e: e["user"]["id"] == bob["user"]["id"])
    r = join(server, bob["accessToken"], room)
    assert r.status_code == 403 and r.json()["error"]["code"] == "banned_from_room"
    r = server.api("POST", f"/rooms/{room['id']}/invites", ann["accessToken"], json={"userId": bob["user"]["id"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "banned_from_room"
    bans = server.api("GET", f"/rooms/{room['id']}/bans", mod["accessToken"]).json()["bans"]
    assert [(x["user"]["id"], x["reason"]) for x in bans] == [(bob["user"]["id"], "trolling")]

    assert server.api("DELETE", f"/rooms/{room['id']}/bans/{bob['user']['id']}", mod["accessToken"]).status_code == 204
    a.wait_for("member:unbanned", lambda e: e["user"]["id"] == bob["user"]["id"])
    assert join(server, bob["accessToken"], room).status_code == 200

    log = server.api("GET", f"/rooms/{room['id']}/audit-log", mod["accessToken"]).json()
    assert [e["action"] for e in log["entries"]] == ["unban", "ban", "role"] and log.get("nextBefore") is None
    assert log["entries"][1]["actor"]["id"] == mod["user"]["id"] and log["entries"][1]["target"]["id"] == bob["user"]["id"]
    assert log["entries"][1]["reason"] == "trolling" and log["entries"][1]["createdAt"].endswith("Z")
    r = server.api("GET", f"/rooms/{room['id']}/audit-log", bob["accessToken"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_room_moderator"


def test_the_last_owner_cannot_leave_without_handing_over(server):
    ann, bob = server.new_user("ann"), server.new_user("bob")
    room = create_room(server, ann["accessToken"])
    assert join(server, bob["accessToken"], room).status_code == 200
    r = server.api("POST", f"/rooms/{room['id']}/leave", ann["accessToken"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_owner", r.text
    r = server.api("PUT", f"/rooms/{room['id']}/members/{bob['user']['id']}/role", ann["accessToken"], json={"role": "owner"})
    assert r.status_code == 200, r.text
    assert server.api("POST", f"/rooms/{room['id']}/leave", ann["accessToken"]).status_code == 204
    members = server.api("GET", f"/rooms/{room['id']}/members", bob["accessToken"]).json()["members"]
    assert [(m["user"]["id"], m["role"]) for m in members] == [(bob["user"]["id"], "owner")]


def test_an_owner_steps_down_while_another_owner_remains(server, tabs):
    ann, bob = server.new_user("ann"), server.new_user("bob")
    room = create_room(server, ann["accessToken"])
    assert join(server, bob["accessToken"], room).status_code == 200
    b = tabs(server, bob["accessToken"])
    me = f"/rooms/{room['id']}/members/{ann['user']['id']}/role"
    # Alone as owner: stepping down would leave the room without one.
    r = server.api("PUT", me, ann["accessToken"], json={"role": "member"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_owner", r.text
    r = server.api("PUT", f"/rooms/{room['id']}/members/{bob['user']['id']}/role", ann["accessToken"], json={"role": "owner"})
    assert r.status_code == 200, r.text
    r = server.api("PUT", me, ann["accessToken"], json={"role": "admin"})
    assert r.status_code == 200, r.text
    event = b.wait_for("member:role", lambda e: e["user"]["id"] == ann["user"]["id"])
    assert event["by"]["id"] == ann["user"]["id"] and event["role"] == "admin"
    # One's own role only goes down.
    r = server.api("PUT", me, ann["accessToken"], json={"role": "owner"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed", r.text
