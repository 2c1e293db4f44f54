"""Guests and server administration (issue 16) with the real python-socketio client and the
built binary: a guest joins a room that allows guests and posts live; it is refused
elsewhere; an admin's disable closes the user's live socket at once; `switchboard admin
create` / `promote` against a real SQLite file."""
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest
import socketio

from chat_client import Tab, create_room as room, tabs_fixture
from relay_fixture import REPO_ROOT, bin_dir
from switchboard_fixture import Switchboard

PASSWORD = "correct horse battery"


TAB_EVENTS = ("message:new", "room:member", "presence", "room:updated", "room:deleted")
tabs = tabs_fixture(*TAB_EVENTS)


def guest(server, name="Visitor"):
    r = server.api("POST", "/auth/guest", json={"displayName": name, "refreshTokenInBody": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["guest"] is True and body["user"]["username"].startswith("guest-")
    return body


def cli(*args, data_dir, stdin=None, database_url=None):
    """Runs the built `switchboard` with `args` on `data_dir` (SQLite unless `database_url`)."""
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.update({"DATA_DIR": data_dir, "MIGRATIONS_DIR": str(REPO_ROOT / "Migrations"), "LOG_LEVEL": "warning"})
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run([str(bin_dir() / "switchboard"), *args], input=stdin, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120)


def test_guest_joins_an_allowed_room_and_posts_live_marked_as_guest(server, tabs):
    owner = server.new_user("own")
    lobby = room(server, owner["accessToken"], allowGuests=True)
    assert lobby["allowGuests"] is True
    o = tabs(server, owner["accessToken"])
    g = guest(server, "Visitor")
    assert server.api("POST", f"/rooms/{lobby['id']}/join", g["accessToken"]).status_code == 200
    joined = o.wait_for("room:member", lambda e: e["user"]["id"] == g["user"]["id"])
    assert joined["user"]["guest"] is True and joined["role"] == "guest"

    t = tabs(server, g["accessToken"])
    online = o.wait_for("presence", lambda e: e["userId"] == g["user"]["id"] and e["online"])
    assert online["guest"] is True
    ack = t.call("message:send", {"roomId": lobby["id"], "body": "hello, I am a guest", "clientMsgId": "g-1"})
    assert ack["ok"] is True and ack["message"]["author"]["guest"] is True
    seen = o.wait_for("message:new", lambda m: m["body"] == "hello, I am a guest")
    assert seen["author"] == {"id": g["user"]["id"], "username": g["user"]["username"], "displayName": "Visitor", "guest": True}
    # An account's objects carry no guest flag.
    ack = o.call("message:send", {"roomId": lobby["id"], "body": "welcome", "clientMsgId": "o-1"})
    assert "guest" not in ack["message"]["author"]
    t.wait_for("message:new", lambda m: m["body"] == "welcome")


def test_guest_is_refused_everywhere_else(server, tabs):
    owner = server.new_user("own")
    closed = room(server, owner["accessToken"])
    g = guest(server)
    token = g["accessToken"]
    posted = server.api("POST", f"/rooms/{closed['id']}/messages", owner["accessToken"], json={"body": "accounts only"}).json()["message"]
    for method, path, body in [
        ("POST", f"/rooms/{closed['id']}/join", None),
        # What a guest cannot join, it cannot read either: history, members, a message's reactions.
        ("GET", f"/rooms/{closed['id']}/messages", None),
        ("GET", f"/rooms/{closed['id']}/members", None),
        ("GET", f"/rooms/{closed['id']}/messages/{posted['id']}/reactions", None),
        ("POST", "/rooms", {"name": f"mine-{uuid.uuid4().hex[:6]}"}),
        ("POST", "/direct", {"userId": owner["user"]["id"]}),
    ]:
        r = server.api(method, path, token, json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "guest_not_allowed", (path, r.text)
    r = server.api("POST", "/direct", owner["accessToken"], json={"userId": g["user"]["id"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "guest_not_allowed"
    # Over the socket: not a member of the room it could not join.
    t = tabs(server, token)
    ack = t.call("message:send", {"roomId": closed["id"], "body": "sneaky", "clientMsgId": "s-1"})
    assert ack["ok"] is False and ack["error"]["code"] == "not_a_member"
    # Logging in with the guest's username never works.
    r = server.api("POST", "/auth/login", json={"login": g["user"]["username"], "password": "!guest"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    # The owner opens the room to guests: now the guest gets in.
    r = server.api("PATCH", f"/rooms/{closed['id']}", owner["accessToken"], json={"allowGuests": True})
    assert r.status_code == 200 and r.json()["allowGuests"] is True
    assert server.api("POST", f"/rooms/{closed['id']}/join", token).status_code == 200


def test_the_last_owner_leaving_a_room_of_guests_closes_it_for_them(server, tabs):
    owner = server.new_user("own")
    lobby = room(server, owner["accessToken"], allowGuests=True)
    g = guest(server)
    assert server.api("POST", f"/rooms/{lobby['id']}/join", g["accessToken"]).status_code == 200
    t = tabs(server, g["accessToken"])
    # Guests cannot be owners: the owner may leave, and the room closes instead of staying ownerless.
    r = server.api("POST", f"/rooms/{lobby['id']}/leave", owner["accessToken"])
    assert r.status_code == 204, r.text
    assert t.wait_for("room:deleted", lambda e: e["roomId"] == lobby["id"])
    r = server.api("GET", f"/rooms/{lobby['id']}/members", g["accessToken"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "room_not_found"


def test_admin_disable_disconnects_the_users_live_socket_at_once(server, tabs):
    name = f"root{uuid.uuid4().hex[:6]}"
    made = cli("admin", "create", "--email", f"{name}@example.com", "--username", name, data_dir=server.data_dir,
               stdin=PASSWORD + "\n", database_url=os.environ.get("INTEROP_DATABASE_URL"))
    assert made.returncode == 0, made.stderr
    admin = server.login(name)
    assert admin["user"]["serverRole"] == "admin"
    victim = server.new_user("vic")
    plain = server.api("GET", "/admin/stats", victim["accessToken"])
    assert plain.status_code == 403 and plain.json()["error"]["code"] == "admin_required"

    v = tabs(server, victim["accessToken"])
    stats = server.api("GET", "/admin/stats", admin["accessToken"]).json()
    assert stats["socketsOnline"] >= 1 and stats["usersOnline"] >= 1
    found = server.api("GET", "/admin/users", admin["accessToken"], params={"q": victim["user"]["username"]}).json()["users"]
    assert [u["id"] for u in found] == [victim["user"]["id"]] and found[0]["online"] is True

    r = server.api("POST", f"/admin/users/{victim['user']['id']}/disable", admin["accessToken"])
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert v.disconnected.wait(10), "the disabled user's socket stayed open"
    me = server.api("GET", "/me", victim["accessToken"])
    assert me.status_code == 401 and me.json()["error"]["code"] == "session_revoked"
    r = server.api("POST", "/auth/refresh", json={"refreshToken": victim["refreshToken"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_disabled"
    # A new connection with the old token is refused too.
    with pytest.raises(socketio.exceptions.ConnectionError):
        Tab(server, victim["accessToken"], TAB_EVENTS)


def test_cli_admin_create_and_promote_on_a_real_sqlite_file():
    data_dir = tempfile.mkdtemp(prefix="switchboard-cli-")
    sqlite = os.path.join(data_dir, "switchboard.sqlite")
    name = f"chief{uuid.uuid4().hex[:6]}"
    short = cli("admin", "create", "--email", f"{name}@example.com", "--username", name, data_dir=data_dir, stdin="short\n")
    assert short.returncode == 1 and "password" in short.stderr
    made = cli("admin", "create", "--email", f"{name}@example.com", "--username", name, data_dir=data_dir, stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    assert os.path.exists(sqlite)
    again = cli("admin", "create", "--email", f"other{name}@example.com", "--username", name, data_dir=data_dir, stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "taken" in again.stderr
    missing = cli("admin", "promote", "nobody-here", data_dir=data_dir)
    assert missing.returncode == 1 and "no account" in missing.stderr

    # The server on the same file (DATABASE_URL empty: SQLite in DATA_DIR even when the suite runs on PostgreSQL).
    server = Switchboard(DATA_DIR=data_dir, DATABASE_URL="")
    try:
        chief = server.login(name)
        assert chief["user"]["serverRole"] == "admin" and chief["user"]["emailVerified"] is True
        assert server.api("GET", "/admin/stats", chief["accessToken"]).status_code == 200
        deputy = server.new_user("dep")
        assert "serverRole" not in deputy["user"]
        assert server.api("GET", "/admin/stats", deputy["accessToken"]).status_code == 403
        # Promoted from the command line while the server runs: the next request is an admin's.
        promoted = cli("admin", "promote", deputy["user"]["username"], data_dir=data_dir)
        assert promoted.returncode == 0, promoted.stderr
        assert server.api("GET", "/admin/stats", deputy["accessToken"]).status_code == 200
        assert server.login(deputy["user"]["username"])["user"]["serverRole"] == "admin"
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
