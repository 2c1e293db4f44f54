"""Rich messages over Socket.IO with the real python-socketio client (issue 15): edits, deletes,
replies and reactions, their deltas to the room, and the refusals of bad input."""
import pytest

from test_chat_realtime import create_room, tabs  # noqa: F401 (tabs is a fixture)

CHANGES = ("message:updated", "message:deleted", "reaction")


def listen(tab):
    for name in CHANGES:
        tab.client.on(name, tab._recorder(name))
    return tab


def error_code(ack):
    assert ack["ok"] is False, ack
    return ack["error"]["code"]


@pytest.fixture
def room_of_two(server, tabs):  # noqa: F811
    ann, bob = server.new_user("ann"), server.new_user("bob")
    room = create_room(server, ann["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", bob["accessToken"]).status_code == 200
    a = listen(tabs(server, ann["accessToken"]))
    b = listen(tabs(server, bob["accessToken"]))
    return ann, bob, room, a, b


def test_edit_reaches_the_room_and_history(server, room_of_two):
    ann, bob, room, a, b = room_of_two
    sent = a.call("message:send", {"roomId": room["id"], "body": "helo", "clientMsgId": "e1"})["message"]
    ack = a.call("message:edit", {"roomId": room["id"], "messageId": sent["id"], "body": "hello"})
    assert ack["ok"] is True and ack["message"]["body"] == "hello" and ack["message"]["id"] == sent["id"]
    update = b.wait_for("message:updated", lambda e: e["id"] == sent["id"])
    assert update == {"id": sent["id"], "roomId": room["id"], "body": "hello", "editedAt": ack["message"]["editedAt"]}
    history = server.api("GET", f"/rooms/{room['id']}/messages", bob["accessToken"]).json()["messages"]
    assert history[-1]["body"] == "hello" and history[-1]["editedAt"] == update["editedAt"]

    # Not the author; bodies as a send's; a malformed payload.
    assert error_code(b.call("message:edit", {"messageId": sent["id"], "body": "mine now"})) == "not_message_author"
    refused = a.call("message:edit", {"messageId": sent["id"], "body": "x" * 4001})
    assert error_code(refused) == "validation_failed" and "body" in refused["error"]["fields"]
    assert error_code(a.call("message:edit", {"messageId": sent["id"], "body": "   "})) == "validation_failed"
    assert error_code(a.call("message:edit", {"messageId": "1", "body": "x"})) == "invalid_payload"
    assert error_code(a.call("message:edit", {"messageId": sent["id"]})) == "invalid_payload"
    history = server.api("GET", f"/rooms/{room['id']}/messages", bob["accessToken"]).json()["messages"]
    assert history[-1]["body"] == "hello"


def test_edit_window_from_configuration():
    from switchboard_fixture import Switchboard
    server = Switchboard(MESSAGE_EDIT_WINDOW="0")
    try:
        from chat_client import Tab
        ann = server.new_user("ann")
        room = create_room(server, ann["accessToken"])
        a = Tab(server, ann["accessToken"], ("message:new",))
        try:
            sent = a.call("message:send", {"roomId": room["id"], "body": "fixed forever", "clientMsgId": "w"})["message"]
            assert error_code(a.call("message:edit", {"messageId": sent["id"], "body": "changed"})) == "edit_window_passed"
        finally:
            a.close()
    finally:
        server.stop()


def test_delete_leaves_a_tombstone_and_refuses_edits_and_reactions(server, room_of_two):
    ann, bob, room, a, b = room_of_two
    first = b.call("message:send", {"roomId": room["id"], "body": "keep", "clientMsgId": "d0"})["message"]
    secret = b.call("message:send", {"roomId": room["id"], "body": "oops, my password", "clientMsgId": "d1"})["message"]
    last = b.call("message:send", {"roomId": room["id"], "body": "after", "clientMsgId": "d2"})["message"]
    assert a.call("reaction:add", {"messageId": secret["id"], "emoji": "👀"})["ok"] is True

    ack = b.call("message:delete", {"messageId": secret["id"]})
    assert ack["ok"] is True and ack["message"]["id"] == secret["id"] and ack["message"]["roomId"] == room["id"]
    gone = a.wait_for("message:deleted", lambda e: e["id"] == secret["id"])
    assert gone["roomId"] == room["id"] and gone["deletedAt"] == ack["message"]["deletedAt"]

    history = server.api("GET", f"/rooms/{room['id']}/messages", ann["accessToken"]).json()["messages"]
    assert [m["id"] for m in history] == [first["id"], secret["id"], last["id"]]
    tombstone = history[1]
    assert tombstone["body"] == "" and tombstone["deletedAt"] == gone["deletedAt"] and "reactions" not in tombstone
    assert "oops" not in str(history)

    assert error_code(b.call("message:edit", {"messageId": secret["id"], "body": "back"})) == "message_deleted"
    assert error_code(a.call("reaction:add", {"messageId": secret["id"], "emoji": "👍"})) == "message_deleted"
    # A member may not delete another's message; the owner may.
    assert error_code(b.call("message:delete", {"messageId": first["id"] if False else a.call(
        "message:send", {"roomId": room["id"], "body": "ann's", "clientMsgId": "d3"})["message"]["id"]})) == "not_message_author"
    assert a.call("message:delete", {"messageId": last["id"]})["ok"] is True
    b.wait_for("message:deleted", lambda e: e["id"] == last["id"])


def test_reply_carries_a_preview_and_must_stay_in_the_room(server, room_of_two):
    ann, bob, room, a, b = room_of_two
    parent = a.call("message:send", {"roomId": room["id"], "body": "Which day works?\n" + "x" * 200, "clientMsgId": "r0"})["message"]
    reply = b.call("message:send", {"roomId": room["id"], "body": "Tuesday", "clientMsgId": "r1", "replyTo": parent["id"]})
    assert reply["ok"] is True
    live = a.wait_for("message:new", lambda m: m["body"] == "Tuesday")
    preview = live["replyPreview"]
    assert live["replyTo"] == parent["id"] and preview["id"] == parent["id"] and preview["authorId"] == ann["user"]["id"]
    assert preview["username"] == ann["user"]["username"] and preview["excerpt"] == ("Which day works? " + "x" * 200)[:100]
    assert reply["message"]["replyPreview"] == preview

    other = create_room(server, bob["accessToken"])
    elsewhere = b.call("message:send", {"roomId": other["id"], "body": "elsewhere", "clientMsgId": "r2"})["message"]
    refused = a.call("message:send", {"roomId": room["id"], "body": "cross", "clientMsgId": "r3", "replyTo": elsewhere["id"]})
    assert error_code(refused) == "validation_failed" and "replyTo" in refused["error"]["fields"]

    assert a.call("message:delete", {"messageId": parent["id"]})["ok"] is True
    history = server.api("GET", f"/rooms/{room['id']}/messages", bob["accessToken"]).json()["messages"]
    shown = next(m for m in history if m["id"] == reply["message"]["id"])["replyPreview"]
    assert shown["deleted"] is True and "excerpt" not in shown


def test_reactions_deltas_counts_and_who_reacted(server, room_of_two):
    ann, bob, room, a, b = room_of_two
    sent = a.call("message:send", {"roomId": room["id"], "body": "react", "clientMsgId": "x0"})["message"]
    ack = b.call("reaction:add", {"roomId": room["id"], "messageId": sent["id"], "emoji": "🎉"})
    assert ack == {"ok": True, "changed": True, "reaction": {"messageId": sent["id"], "roomId": room["id"], "emoji": "🎉", "userId": bob["user"]["id"], "added": True}}
    delta = a.wait_for("reaction", lambda e: e["messageId"] == sent["id"])
    assert delta == ack["reaction"]
    assert b.call("reaction:add", {"messageId": sent["id"], "emoji": "🎉"})["changed"] is False
    assert a.call("reaction:add", {"messageId": sent["id"], "emoji": "🎉"})["changed"] is True

    for token, me in ((ann["accessToken"], True), (bob["accessToken"], True)):
        history = server.api("GET", f"/rooms/{room['id']}/messages", token).json()["messages"]
        assert history[-1]["reactions"] == [{"emoji": "🎉", "count": 2, "me": me}]
    who = server.api("GET", f"/rooms/{room['id']}/messages/{sent['id']}/reactions", ann["accessToken"])
    assert who.status_code == 200
    assert [(g["emoji"], g["count"], [u["id"] for u in g["users"]]) for g in who.json()["reactions"]] == [("🎉", 2, [bob["user"]["id"], ann["user"]["id"]])]

    assert b.call("reaction:remove", {"messageId": sent["id"], "emoji": "🎉"})["changed"] is True
    a.wait_for("reaction", lambda e: e["messageId"] == sent["id"] and e["added"] is False)
    for bad in ["", "ok", "1", "👍👍", "<img src=x>", "🏴" + "\U000E0061" * 20]:
        refused = b.call("reaction:add", {"messageId": sent["id"], "emoji": bad})
        assert error_code(refused) == "validation_failed" and "emoji" in refused["error"]["fields"], bad
    history = server.api("GET", f"/rooms/{room['id']}/messages", ann["accessToken"]).json()["messages"]
    assert history[-1]["reactions"] == [{"emoji": "🎉", "count": 1, "me": True}]


def test_outsiders_get_not_found_for_existing_messages(server, room_of_two, tabs):  # noqa: F811
    ann, bob, room, a, b = room_of_two
    eve = server.new_user("eve")
    private = create_room(server, ann["accessToken"], kind="private")
    secret = a.call("message:send", {"roomId": private["id"], "body": "members only", "clientMsgId": "p"})["message"]
    e = listen(tabs(server, eve["accessToken"]))
    for event, payload in (("reaction:add", {"emoji": "👍"}), ("reaction:remove", {"emoji": "👍"}),
                           ("message:edit", {"body": "x"}), ("message:delete", {})):
        real = e.call(event, {"messageId": secret["id"], **payload})
        unknown = e.call(event, {"messageId": secret["id"] + 100000, **payload})
        assert error_code(real) == error_code(unknown) == "message_not_found", event
        assert real["error"]["message"] == unknown["error"]["message"]
    r = server.api("GET", f"/rooms/{private['id']}/messages/{secret['id']}/reactions", eve["accessToken"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"
    r = server.api("PATCH", f"/rooms/{private['id']}/messages/{secret['id']}", eve["accessToken"], json={"body": "x"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "message_not_found"
    history = server.api("GET", f"/rooms/{private['id']}/messages", ann["accessToken"]).json()["messages"]
    assert history[-1]["body"] == "members only" and "reactions" not in history[-1]


def test_rest_edit_and_delete(server, room_of_two):
    ann, bob, room, a, b = room_of_two
    sent = b.call("message:send", {"roomId": room["id"], "body": "via rest", "clientMsgId": "h0"})["message"]
    r = server.api("PATCH", f"/rooms/{room['id']}/messages/{sent['id']}", bob["accessToken"], json={"body": "edited via rest"})
    assert r.status_code == 200 and r.json()["body"] == "edited via rest"
    a.wait_for("message:updated", lambda e: e["id"] == sent["id"])
    r = server.api("DELETE", f"/rooms/{room['id']}/messages/{sent['id']}", bob["accessToken"])
    assert r.status_code == 204
    a.wait_for("message:deleted", lambda e: e["id"] == sent["id"])
