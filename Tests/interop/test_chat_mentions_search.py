"""Mentions and message search (issue 15) against the real server, with python-socketio."""
import uuid

import pytest

from chat_client import create_room, tabs_fixture


tabs = tabs_fixture("message:new", "read")


def room_entry(server, token, room_id):
    r = server.api("GET", "/rooms", token)
    assert r.status_code == 200, r.text
    return next(room for room in r.json()["rooms"] if room["id"] == room_id)


def test_mention_is_live_counted_at_login_and_cleared_by_reading(server, tabs):
    ann, bob, eve = server.new_user("ann"), server.new_user("bob"), server.new_user("eve")
    bob_name, eve_name = bob["user"]["username"], eve["user"]["username"]
    room = create_room(server, ann["accessToken"])
    assert server.api("POST", f"/rooms/{room['id']}/join", bob["accessToken"]).status_code == 200
    a, b = tabs(server, ann["accessToken"]), tabs(server, bob["accessToken"])

    # eve is not a member: her name is plain text; bob's (in another letter case) is a mention.
    ack = a.call("message:send", {"roomId": room["id"], "body": f"hey @{bob_name.upper()}, ask @{eve_name}", "clientMsgId": "m1"})
    assert ack["ok"] is True and ack["message"]["mentions"] == [bob["user"]["id"]]
    live = b.wait_for("message:new", lambda m: m["clientMsgId"] == "m1")
    assert live["mentions"] == [bob["user"]["id"]]
    plain = a.call("message:send", {"roomId": room["id"], "body": "no names here", "clientMsgId": "m2"})
    assert "mentions" not in plain["message"]
    b.wait_for("message:new", lambda m: m["clientMsgId"] == "m2")

    entry = room_entry(server, bob["accessToken"], room["id"])
    assert entry["unreadCount"] == 2 and entry["mentionCount"] == 1
    assert room_entry(server, ann["accessToken"], room["id"])["mentionCount"] == 0
    history = server.api("GET", f"/rooms/{room['id']}/messages", bob["accessToken"]).json()["messages"]
    assert [m.get("mentions") for m in history] == [[bob["user"]["id"]], None]

    # Reading clears it, live in the user's other tabs too.
    b2 = tabs(server, bob["accessToken"])
    read = b.call("room:read", {"roomId": room["id"], "messageId": plain["message"]["id"]})
    assert read["ok"] is True and read["read"]["mentionCount"] == 0 and read["read"]["unreadCount"] == 0
    pushed = b2.wait_for("read", lambda e: e["roomId"] == room["id"])
    assert pushed["mentionCount"] == 0
    assert room_entry(server, bob["accessToken"], room["id"])["mentionCount"] == 0


def test_search_ranks_excerpts_pages_and_never_leaks_other_rooms(server):
    ann, bob = server.new_user("ann"), server.new_user("bob")
    word = f"zq{uuid.uuid4().hex[:6]}"  # a word only this test's messages hold
    shared = create_room(server, ann["accessToken"])
    server.api("POST", f"/rooms/{shared['id']}/join", bob["accessToken"])
    secret = create_room(server, ann["accessToken"], kind="private")
    lobby = create_room(server, ann["accessToken"])  # public, bob not a member

    def post(room, body):
        r = server.api("POST", f"/rooms/{room['id']}/messages", ann["accessToken"], json={"body": body})
        assert r.status_code == 201, r.text
        return r.json()["message"]["id"]

    dense = post(shared, f"{word} {word} {word}")
    sparse = post(shared, f"a long message that says {word} once among many other words in the room today")
    post(secret, f"secret {word}")
    post(lobby, f"lobby {word}")

    r = server.api("GET", "/search/messages", bob["accessToken"], params={"q": word.upper()})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [hit["id"] for hit in page["results"]] == [dense, sparse]
    assert page.get("nextCursor") is None
    assert {"text": word, "match": True} in page["results"][1]["snippet"]
    assert page["results"][1]["roomId"] == shared["id"] and page["results"][1]["author"]["id"] == ann["user"]["id"]

    first = server.api("GET", "/search/messages", bob["accessToken"], params={"q": word, "limit": 1}).json()
    assert [hit["id"] for hit in first["results"]] == [dense] and first["nextCursor"]
    second = server.api("GET", "/search/messages", bob["accessToken"], params={"q": word, "limit": 1, "cursor": first["nextCursor"]}).json()
    assert [hit["id"] for hit in second["results"]] == [sparse] and second.get("nextCursor") is None

    # A room I am not in (private or public) answers exactly as a room that does not exist.
    answers = []
    for room_id in (secret["id"], lobby["id"], 987654321):
        r = server.api("GET", "/search/messages", bob["accessToken"], params={"q": word, "roomId": room_id})
        assert r.status_code == 404, r.text
        answers.append(r.json()["error"]["code"])
    assert answers == ["room_not_found"] * 3
    # ann, a member of all three, finds all four.
    assert len(server.api("GET", "/search/messages", ann["accessToken"], params={"q": word}).json()["results"]) == 4


@pytest.mark.parametrize("query", ['"', "NEAR(", "*", "AND", "OR NOT", '"unbalanced', "a:b", "^x", "{body}:x", "-x", "x*", "NEAR(a b, 2)", "'; DROP TABLE messages; --", "%_\\"])
def test_hostile_search_queries_are_literal(server, query):
    user = server.new_user("hq")
    r = server.api("GET", "/search/messages", user["accessToken"], params={"q": query})
    assert r.status_code == 200, r.text
    assert r.json()["results"] == []


def test_search_of_full_text_syntax_finds_the_literal_word(server):
    ann = server.new_user("ann")
    room = create_room(server, ann["accessToken"])
    marker = f"near{uuid.uuid4().hex[:6]}"
    r = server.api("POST", f"/rooms/{room['id']}/messages", ann["accessToken"], json={"body": f"meet {marker} AND bring snacks"})
    message_id = r.json()["message"]["id"]
    for query in (f"{marker}(", f'"{marker}', f"{marker}*", f"AND {marker}"):
        hits = server.api("GET", "/search/messages", ann["accessToken"], params={"q": query, "roomId": room["id"]}).json()["results"]
        assert [hit["id"] for hit in hits] == [message_id], query


def test_search_query_limits_are_clear_errors(server):
    user = server.new_user("ql")
    r = server.api("GET", "/search/messages", user["accessToken"], params={"q": "a" * 10_000})
    assert r.status_code == 400 and r.json()["error"]["code"] == "search_query_too_long"
    r = server.api("GET", "/search/messages", user["accessToken"], params={"q": " ".join(f"w{i}" for i in range(17))})
    assert r.status_code == 400 and r.json()["error"]["code"] == "search_query_too_long"
    r = server.api("GET", "/search/messages?q=%20%20%09", user["accessToken"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed", r.text
    for params in ({}, {"q": ""}, {"q": "x", "limit": 0}, {"q": "x", "limit": 51}, {"q": "x", "cursor": "abc"}, {"q": "x", "roomId": "abc"}):
        r = server.api("GET", "/search/messages", user["accessToken"], params=params)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed", (params, r.text)
    assert server.api("GET", "/search/messages", None, params={"q": "x"}).status_code == 401
