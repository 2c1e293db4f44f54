"""Durable chat sends over Socket.IO: sets up users and rooms over REST, then runs
`relay-bench chat` against the same server.

100 rooms x 10 users by default; every user registers, verifies the email from the
development mailbox, logs in, and joins one public room. The access tokens and room ids go
to a file (`roomId token` per line) that relay-bench reads.

    python3 Benchmarks/chat_bench.py --binary .build-release/release/switchboard \
        --relay-bench .build-release/release/relay-bench [--database-url postgres://…] -- --rate 0 --in-flight 1

`--setup direct` (the default) writes the same users, sessions, rooms and memberships straight
into the database and signs the access tokens with the development secret in DATA_DIR: seconds
instead of minutes of scrypt, and what is measured (the sends) is the same. `--setup rest` goes
through the API as a user would (registration, mailbox verification, login, join).
"""
import argparse
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import tempfile
import time

import requests

from bench_server import Server, unique

BATCH = 50  # the development mailbox keeps the last 100 mails


def verify_batch(server: Server, names: list[str]) -> None:
    wanted = {f"{n}@example.com": n for n in names}
    tokens: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while len(tokens) < len(wanted) and time.monotonic() < deadline:
        for mail in requests.get(server.url + "/dev/mailbox.json", timeout=10).json().get("messages", []):
            to = mail.get("to")
            for address in (to if isinstance(to, list) else [to]):
                if address in wanted and "verify-email?token=" in mail.get("text", ""):
                    tokens[address] = mail["text"].split("verify-email?token=")[1].split()[0]
        if len(tokens) < len(wanted):
            time.sleep(0.2)
    assert len(tokens) == len(wanted), f"{len(wanted) - len(tokens)} verification mails missing"
    for token in tokens.values():
        assert server.api("POST", "/auth/verify-email", json={"token": token}).status_code == 200


def setup(server: Server, rooms: int, per_room: int, workers: int) -> list[tuple[int, str]]:
    names = [unique(f"u{i}-") for i in range(rooms * per_room)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for i in range(0, len(names), BATCH):
            batch = names[i:i + BATCH]
            list(pool.map(server.register, batch))
            verify_batch(server, batch)
        print(f"registered and verified {len(names)} users in {time.perf_counter() - started:.0f} s", flush=True)
        logins = list(pool.map(lambda n: server.login(n)["accessToken"], names))
    print(f"logged in {len(names)} users in {time.perf_counter() - started:.0f} s", flush=True)
    assignments = []
    for r in range(rooms):
        members = list(range(r * per_room, (r + 1) * per_room))
        owner = logins[members[0]]
        response = server.api("POST", "/rooms", owner, json={"name": unique(f"bench-{r}-"), "kind": "public"})
        assert response.status_code == 201, response.text
        room_id = response.json()["id"]
        for m in members[1:]:
            joined = server.api("POST", f"/rooms/{room_id}/join", logins[m])
            assert joined.status_code == 200, joined.text
        assignments += [(room_id, logins[m]) for m in members]
    print(f"{rooms} rooms x {per_room} members ready in {time.perf_counter() - started:.0f} s", flush=True)
    return assignments


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_token(secret: str, user_id: int, session_id: str, now: int) -> str:
    """An HS256 access token as AccessTokenService issues it (kid = "hs-" + 6 bytes of SHA-256(secret))."""
    kid = "hs-" + hashlib.sha256(secret.encode()).digest()[:6].hex()
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    claims = {"sub": str(user_id), "sid": session_id, "iat": now, "exp": now + 3600, "iss": "switchboard",
              "aud": ["switchboard-api"], "typ": "access"}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def setup_direct(server: Server, rooms: int, per_room: int) -> list[tuple[int, str]]:
    """Users (verified), one live session each, public rooms of `per_room` members, written in one
    transaction; tokens signed with the development secret (valid 1 h)."""
    started = time.perf_counter()
    now_ms = int(time.time() * 1000)
    tag = unique("b")
    statements = []
    for r in range(rooms):
        for m in range(per_room):
            name = f"{tag}r{r}m{m}"
            statements.append(
                "INSERT INTO users (email, email_key, username, display_name, password_hash, email_verified_at, created_at, updated_at) "
                f"VALUES ('{name}@example.com', '{name}@example.com', '{name}', '{name}', 'x', {now_ms}, {now_ms}, {now_ms})")
        statements.append(
            "INSERT INTO rooms (kind, name, name_key, created_by, created_at, updated_at) "
            f"SELECT 'public', '{tag}room{r}', '{tag}room{r}', id, {now_ms}, {now_ms} FROM users WHERE username = '{tag}r{r}m0'")
    statements.append(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) "
        f"SELECT 'bench-' || username, id, {now_ms}, {now_ms}, {now_ms + 86_400_000} FROM users WHERE username LIKE '{tag}r%'")
    for r in range(rooms):
        statements.append(
            "INSERT INTO memberships (room_id, user_id, role, joined_at) "
            f"SELECT r.id, u.id, CASE WHEN u.id = r.created_by THEN 'owner' ELSE 'member' END, {now_ms} "
            f"FROM rooms r, users u WHERE r.name = '{tag}room{r}' AND u.username LIKE '{tag}r{r}m%'")
    query = ("SELECT u.username, u.id, m.room_id FROM users u JOIN memberships m ON m.user_id = u.id "
             f"WHERE u.username LIKE '{tag}r%'")
    if server.database_url:
        script = "BEGIN;\n" + ";\n".join(statements) + ";\nCOMMIT;\n"
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", server.database_url], input=script, text=True, check=True)
        out = subprocess.run(["psql", "-At", "-F", " ", "-c", query, server.database_url], text=True, check=True,
                             capture_output=True).stdout
        rows = [line.split(" ") for line in out.split("\n") if line]
    else:
        with sqlite3.connect(server.sqlite_path, timeout=30) as db:
            for statement in statements:
                db.execute(statement)
            rows = db.execute(query).fetchall()
    secret = open(os.path.join(server.data_dir, "jwt-secret")).read().strip()
    now = int(time.time())
    by_user = {name: (int(user_id), int(room_id)) for name, user_id, room_id in rows}
    assignments = []
    for r in range(rooms):
        for m in range(per_room):
            user_id, room_id = by_user[f"{tag}r{r}m{m}"]
            assignments.append((room_id, access_token(secret, user_id, f"bench-{tag}r{r}m{m}", now)))
    print(f"{rooms} rooms x {per_room} members written to the database in {time.perf_counter() - started:.1f} s", flush=True)
    return assignments


def pgbench(database_url: str, clients: int, seconds: int = 8) -> None:
    """One-row INSERT transactions into a table shaped like `messages` (columns, defaults, identity and
    indexes copied; no foreign keys), `clients` connections, as the send path's ceiling on this box."""
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                    "DROP TABLE IF EXISTS pgbench_messages; CREATE TABLE pgbench_messages (LIKE messages INCLUDING ALL)",
                    database_url], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("\\set room random(1, 100)\n"
                "INSERT INTO pgbench_messages (room_id, author_id, body, created_at) VALUES (:room, 1, 'pgbench message body', 0);\n")
        script = f.name
    try:
        print(f"$ pgbench -n -f insert.sql -c {clients} -j 2 -T {seconds}", flush=True)
        out = subprocess.run(["pgbench", "-n", "-f", script, "-c", str(clients), "-j", "2", "-T", str(seconds), database_url],
                             text=True, capture_output=True, check=True).stdout
        print("\n".join(line for line in out.splitlines() if line.startswith(("tps", "latency", "number of trans"))), flush=True)
    finally:
        os.unlink(script)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True, help="switchboard executable")
    parser.add_argument("--relay-bench", required=True, help="relay-bench executable")
    parser.add_argument("--database-url")
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--per-room", type=int, default=10)
    parser.add_argument("--setup-workers", type=int, default=8)
    parser.add_argument("--setup", choices=["direct", "rest"], default="direct",
                        help="direct: rows written into the database, tokens signed here (seconds); rest: through the API (minutes of scrypt)")
    parser.add_argument("--pgbench", action="store_true",
                        help="PostgreSQL: after the runs, pgbench one-row INSERTs into a copy of `messages` (same columns and "
                             "indexes) at --pgbench-clients, for the ratio measured in the same run")
    parser.add_argument("--pgbench-clients", type=int, default=32)
    parser.add_argument("bench_args", nargs="*", help="extra relay-bench chat arguments (after --); "
                        "';' separates runs that share one setup, e.g. -- --in-flight 1 ';' --rate 500")
    args = parser.parse_args()

    server = Server(args.binary, args.database_url)
    try:
        if args.setup == "direct":
            assignments = setup_direct(server, args.rooms, args.per_room)
        else:
            assignments = setup(server, args.rooms, args.per_room, args.setup_workers)
        with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as f:
            f.write("".join(f"{room} {token}\n" for room, token in assignments))
            tokens = f.name
        try:
            print(f"database: {'postgres' if args.database_url else 'sqlite'}", flush=True)
            runs = [[]]
            for arg in args.bench_args:
                if arg == ";":
                    runs.append([])
                else:
                    runs[-1].append(arg)
            for run in runs:
                command = [args.relay_bench, "chat", "--port", str(server.port), "--server-pid", str(server.process.pid),
                           "--tokens", tokens, *run]
                print("$ relay-bench chat --port <port> --server-pid <pid> --tokens <file> " + " ".join(run), flush=True)
                subprocess.run(command, check=True)
            if args.pgbench and args.database_url:
                pgbench(args.database_url, args.pgbench_clients)
        finally:
            os.unlink(tokens)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
