"""GET /api/rooms latency for a user in 200 rooms over 1,000,000 messages.

Seeds straight into the database (SQLite file or PostgreSQL via psql), then times the
endpoint over HTTP, the way a client logging in sees it.

    python3 Benchmarks/unread_bench.py --binary .build-release/release/switchboard [--database-url postgres://… --psql /usr/lib/postgresql/15/bin/psql]
"""
import argparse
import random
import sqlite3
import subprocess
import time

import requests

from bench_server import Server, percentile, unique

TOTAL_ROOMS = 1000
USER_ROOMS = 200
MESSAGES = 1_000_000


def seed_sqlite(path, user_id, other_id, room_ids):
    db = sqlite3.connect(path, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    now = int(time.time() * 1000)
    db.execute("BEGIN")
    extra = [
        ("public", f"filler-{i}-{random.random()}", other_id, now) for i in range(TOTAL_ROOMS - len(room_ids))
    ]
    db.executemany("INSERT INTO rooms (kind, name, name_key, created_by, created_at, updated_at) VALUES (?, ?, lower(?), ?, ?, ?)",
                   [(k, n, n, c, t, t) for k, n, c, t in extra])
    all_rooms = [r for (r,) in db.execute("SELECT id FROM rooms")]
    db.executemany("INSERT OR IGNORE INTO memberships (room_id, user_id, role, joined_at) VALUES (?, ?, 'member', ?)",
                   [(r, other_id, now) for r in all_rooms])
    per_room = MESSAGES // len(all_rooms)
    rows = ((room, other_id, f"message {i} in room {room}", now - (per_room - i) * 1000) for room in all_rooms for i in range(per_room))
    db.executemany("INSERT INTO messages (room_id, author_id, body, created_at) VALUES (?, ?, ?, ?)", rows)
    db.execute("UPDATE rooms SET last_message_id = (SELECT MAX(id) FROM messages m WHERE m.room_id = rooms.id), last_message_at = ?", (now,))
    set_cursors(lambda sql, params: db.execute(sql, params), db.execute, user_id, room_ids)
    db.execute("COMMIT")
    count = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    db.close()
    return count


def set_cursors(execute, query, user_id, room_ids):
    """Most rooms a few unread, ten rooms past the 1000 cap, a few fully read."""
    for index, room in enumerate(room_ids):
        unread = 1500 if index < 10 else random.choice([0, 0, 1, 3, 7, 20, 50])
        # The id `unread` messages back from the room's newest (ids interleave across rooms).
        execute("UPDATE memberships SET last_read_message_id = COALESCE((SELECT id FROM messages WHERE room_id = ? "
                "ORDER BY id DESC LIMIT 1 OFFSET ?), 0) WHERE room_id = ? AND user_id = ?", (room, unread, room, user_id))


def seed_postgres(psql, url, other_id, room_ids):
    script = f"""
    BEGIN;
    INSERT INTO rooms (kind, name, name_key, created_by, created_at, updated_at)
      SELECT 'public', 'filler-' || g, 'filler-' || g, {other_id}, 0, 0 FROM generate_series(1, {TOTAL_ROOMS - len(room_ids)}) g;
    INSERT INTO memberships (room_id, user_id, role, joined_at) SELECT id, {other_id}, 'member', 0 FROM rooms ON CONFLICT DO NOTHING;
    INSERT INTO messages (room_id, author_id, body, created_at)
      SELECT r.id, {other_id}, 'message ' || g || ' in room ' || r.id, g FROM rooms r, generate_series(1, {MESSAGES // TOTAL_ROOMS}) g;
    UPDATE rooms SET last_message_id = (SELECT MAX(id) FROM messages m WHERE m.room_id = rooms.id), last_message_at = 1;
    COMMIT;
    VACUUM ANALYZE;
    """
    body, vacuum = script.split("VACUUM ANALYZE;")
    subprocess.run([psql, url, "-q", "-v", "ON_ERROR_STOP=1", "-c", body], check=True)
    subprocess.run([psql, url, "-q", "-c", "VACUUM ANALYZE"], check=True)
    out = subprocess.run([psql, url, "-At", "-c", "SELECT COUNT(*) FROM messages"], check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--psql", default="psql")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    random.seed(7)
    server = Server(args.binary, args.database_url)
    try:
        me, other = unique("reader"), unique("writer")
        for name in (me, other):
            server.register(name)
            server.verify(name)
        token = server.login(me)["accessToken"]
        other_login = server.login(other)
        room_ids = []
        for i in range(USER_ROOMS):
            r = server.api("POST", "/rooms", token, json={"name": unique(f"bench-{i}-"), "kind": "public"})
            assert r.status_code == 201, r.text
            room_ids.append(r.json()["id"])
        started = time.perf_counter()
        if args.database_url:
            count = seed_postgres(args.psql, args.database_url, other_login["user"]["id"], room_ids)
            # the reader's cursors
            statements = []
            set_cursors(lambda sql, params: statements.append(sql.replace("?", "{}").format(*params)), None, server.login(me)["user"]["id"], room_ids)
            subprocess.run([args.psql, args.database_url, "-q", "-c", "BEGIN;" + ";".join(statements) + ";COMMIT;"], check=True)
        else:
            count = seed_sqlite(server.sqlite_path, server.login(me)["user"]["id"], other_login["user"]["id"], room_ids)
        print(f"seeded {count} messages in {TOTAL_ROOMS} rooms in {time.perf_counter() - started:.1f} s; the user is in {USER_ROOMS} rooms")
        session = requests.Session()
        for _ in range(20):
            session.get(server.url + "/api/rooms", headers={"Authorization": f"Bearer {token}"})
        samples = []
        body = None
        for _ in range(args.samples):
            start = time.perf_counter()
            response = session.get(server.url + "/api/rooms", headers={"Authorization": f"Bearer {token}"})
            samples.append(time.perf_counter() - start)
            body = response.json()
        rooms = body["rooms"]
        assert len(rooms) == USER_ROOMS, len(rooms)
        capped = sum(1 for r in rooms if r["unreadCount"] == 1000)
        print(f"GET /api/rooms ({'postgres' if args.database_url else 'sqlite'}): {len(samples)} requests, "
              f"p50 {percentile(samples, 50) * 1000:.2f} ms, p99 {percentile(samples, 99) * 1000:.2f} ms, max {max(samples) * 1000:.2f} ms; "
              f"{capped} rooms at the 1000 cap, total unread {sum(r['unreadCount'] for r in rooms)}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
