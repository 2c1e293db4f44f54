"""Durable chat sends over Socket.IO: sets up users and rooms over REST, then runs
`relay-bench chat` against the same server.

100 rooms x 10 users by default; every user registers, verifies the email from the
development mailbox, logs in, and joins one public room. The access tokens and room ids go
to a file (`roomId token` per line) that relay-bench reads.

    python3 Benchmarks/chat_bench.py --binary .build-release/release/switchboard \
        --relay-bench .build-release/release/relay-bench [--database-url postgres://…] -- --rate 0 --in-flight 1
"""
import argparse
import concurrent.futures
import os
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True, help="switchboard executable")
    parser.add_argument("--relay-bench", required=True, help="relay-bench executable")
    parser.add_argument("--database-url")
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--per-room", type=int, default=10)
    parser.add_argument("--setup-workers", type=int, default=8)
    parser.add_argument("bench_args", nargs="*", help="extra relay-bench chat arguments (after --); "
                        "';' separates runs that share one setup, e.g. -- --in-flight 1 ';' --rate 500")
    args = parser.parse_args()

    server = Server(args.binary, args.database_url)
    try:
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
        finally:
            os.unlink(tokens)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
