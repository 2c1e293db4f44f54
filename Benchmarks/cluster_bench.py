"""Issue 13's benchmarks: fan-out across 3 nodes vs 1 on one PostgreSQL, the event log's append
cost per message, and the time a client takes to recover 1,000 missed events.

    .build-venv/bin/python Benchmarks/cluster_bench.py fanout   --binary B --relay-bench R
    .build-venv/bin/python Benchmarks/cluster_bench.py append   --binary B
    .build-venv/bin/python Benchmarks/cluster_bench.py recovery --binary B

Each scenario starts its own throwaway PostgreSQL (initdb in a temporary directory, default
settings: fsync and synchronous_commit on) and/or SQLite servers, and prints one line per figure
with the 1-minute load average (`/proc/loadavg`) read at that moment: the build machines are
shared, so CPU time (utime + stime from /proc/<pid>/stat, or getrusage) is the comparable
figure; wall-clock rates and latencies are only as good as the CPU the run got.

- fanout: `rooms` x `per_room` users (written straight into the database, as chat_bench.py's
  `--setup direct`), client k connected to node k mod N; one `relay-bench chat` per node at
  rate/N msg/s (open loop), so every message is delivered to members on every node. Reports
  deliveries/s, delivery p99, the nodes' CPU per delivery (relay-bench's reading of each node over
  its window, summed) and PostgreSQL's CPU over the same window.
- append: the statements EventLogStore.append adds to a send's transaction, measured at the SQL
  level on both dialects: the same one-send transaction (message INSERT, rooms and read-cursor
  UPDATEs) without and with the append (PostgreSQL: pg_advisory_xact_lock, INSERT INTO event_log
  … RETURNING seq, pg_notify; SQLite: the INSERT … RETURNING). PostgreSQL through pgbench (latency
  average, backend CPU per transaction), SQLite through Python's sqlite3 (WAL, synchronous=NORMAL,
  as the server opens it; wall and process CPU per transaction).
- recovery: a raw Socket.IO client connects, receives one message (its offset), drops its
  transport; another client sends 1,000 messages (all acked); the first reconnects with pid and
  offset. Time from opening the new WebSocket to the 1,000th replayed `message:new`, and the
  server's CPU over that span, on SQLite and PostgreSQL, several trials each.
"""
import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import websocket

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "Tests" / "interop"))
from bench_server import Server  # noqa: E402
from chat_bench import setup_direct  # noqa: E402
from cluster_fixture import Postgres  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def load() -> str:
    return open("/proc/loadavg").read().split()[0]


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (and of its waited-for children), seconds."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS


def tree_cpu_seconds(root: int) -> float:
    """CPU of `root` (its reaped children included) and of its live children: a postmaster and its backends."""
    total = cpu_seconds(root)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                if int(stat[1]) == root:
                    total += sum(int(f) for f in stat[11:13]) / CLOCK_TICKS
            except (FileNotFoundError, ProcessLookupError):
                pass
    return total


class BenchPostgres(Postgres):
    """The interop tests' throwaway PostgreSQL, but with the default durability settings."""

    def start(self):
        subprocess.run(self.run_as + [f"{self.bindir}/pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-o",
                                      f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200",
                                      "start"], check=True, capture_output=True)

    def postmaster(self) -> int:
        return int(open(f"{self.dir}/data/postmaster.pid").readline())

    def database(self, name: str) -> str:
        subprocess.run([f"{self.bindir}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "switchboard", "-d", "postgres",
                        "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
        return f"postgres://switchboard@127.0.0.1:{self.port}/{name}"


# ---------------------------------------------------------------- fan-out


def fanout(args):
    pg = BenchPostgres()
    try:
        for nodes in args.nodes:
            url = pg.database(f"fanout{nodes}_{int(time.time())}")
            first = Server(args.binary, url)
            secret = open(os.path.join(first.data_dir, "jwt-secret")).read().strip()
            servers = [first] + [Server(args.binary, url, JWT_SECRET=secret) for _ in range(nodes - 1)]
            try:
                # The nodes' own cost with no clients (heartbeats, the log tail's 1 s poll).
                idle = sum(cpu_seconds(s.process.pid) for s in servers)
                time.sleep(5)
                idle = (sum(cpu_seconds(s.process.pid) for s in servers) - idle) / 5
                for i, rate in enumerate(args.rates):
                    if i:
                        time.sleep(8)  # the previous run's users have gone offline (5 s grace)
                    fanout_run(args, pg, servers, rate, idle)
            finally:
                for server in servers:
                    server.log.flush()
                    problems = [line for line in open(server.log.name, errors="replace") if " error " in line or " warning " in line]
                    if problems:
                        print(f"node {server.port}: {len(problems)} warnings/errors in its log, first: {problems[0].strip()[:600]}")
                    server.stop()
    finally:
        pg.destroy()


def fanout_run(args, pg, servers, rate, idle):
    nodes = len(servers)
    assignments = setup_direct(servers[0], args.rooms, args.per_room)
    files = []
    for n in range(nodes):
        f = tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False)
        f.write("".join(f"{room} {token}\n" for k, (room, token) in enumerate(assignments) if k % nodes == n))
        f.close()
        files.append(f.name)
    processes = [subprocess.Popen([args.relay_bench, "chat", "--port", str(server.port), "--server-pid", str(server.process.pid),
                                   "--tokens", path, "--rate", str(rate / nodes), "--warmup", str(args.warmup),
                                   "--duration", str(args.duration)], stdout=subprocess.PIPE, text=True)
                 for server, path in zip(servers, files)]
    outputs = [[] for _ in processes]
    connected = threading.Barrier(len(processes) + 1)

    def read(i, process):
        waited = False
        for line in process.stdout:
            outputs[i].append(line.rstrip())
            if line.startswith("connected ") and not waited:
                waited = True
                connected.wait()
        if not waited:
            connected.wait()
    readers = [threading.Thread(target=read, args=(i, p)) for i, p in enumerate(processes)]
    for reader in readers:
        reader.start()
    connected.wait()
    time.sleep(args.warmup)
    pg_before, loads = tree_cpu_seconds(pg.postmaster()), [load()]
    time.sleep(args.duration)
    pg_after = tree_cpu_seconds(pg.postmaster())
    loads.append(load())
    for p in processes:
        p.wait()
    for reader in readers:
        reader.join()
    for path in files:
        os.unlink(path)
    delivered = server_seconds = 0.0
    p99s, ack_p99s = [], []
    for out in outputs:
        text = "\n".join(out)
        print(text)
        delivered += int(re.search(r"message:new delivery latency: .*\((\d+) samples\)", text).group(1)) / args.duration
        server_seconds += float(re.search(r"server CPU [\d.]+ % of a core \(([\d.]+) s\)", text).group(1))
        p99s.append(float(re.search(r"message:new delivery latency: .*?p99 ([\d.]+) ms", text).group(1)))
        ack_p99s.append(float(re.search(r"ack latency: .*?p99 ([\d.]+) ms", text).group(1)))
    deliveries = delivered * args.duration
    print(f"RESULT fanout nodes={nodes} rate={rate:.0f} msg/s clients={args.rooms * args.per_room} "
          f"deliveries/s={delivered:.0f} delivery_p99_ms(max over nodes)={max(p99s):.1f} ack_p99_ms={max(ack_p99s):.1f} "
          f"nodes_cpu_s={server_seconds:.2f} ({server_seconds / args.duration * 100:.0f} % of a core) "
          f"us_per_delivery={server_seconds * 1e6 / deliveries:.1f} "
          f"postgres_cpu_s={pg_after - pg_before:.2f} pg_us_per_delivery={(pg_after - pg_before) * 1e6 / deliveries:.1f} "
          f"nodes_idle={idle * 100:.1f} % of a core "
          f"load={loads[0]}-{loads[1]}", flush=True)


# ---------------------------------------------------------------- append cost

MESSAGE_NEW = json.dumps([{"id": 1, "roomId": 1, "authorId": 1, "author": {"id": 1, "username": "benchuser", "displayName": "Bench"},
                           "body": "a benchmark message of ordinary length, about sixty characters", "clientMsgId": "c1",
                           "createdAt": "2026-11-29T19:00:00.000Z"}]).replace("'", "''")

PG_SEND = """\\set k random(1, 1000000000)
BEGIN;
INSERT INTO messages (room_id, author_id, body, client_msg_id, created_at) VALUES ({room}, {user}, 'a benchmark message', 'c' || :k || '-' || random(), 0) RETURNING id;
UPDATE rooms SET last_message_id = currval(pg_get_serial_sequence('messages', 'id')) WHERE id = {room};
UPDATE memberships SET last_read_message_id = currval(pg_get_serial_sequence('messages', 'id')) WHERE room_id = {room} AND user_id = {user};
{append}COMMIT;
"""
PG_APPEND = ("SELECT pg_advisory_xact_lock(1398230087);\n"
             "INSERT INTO event_log (namespace, rooms, except_rooms, event, data, effect, created_at) "
             "VALUES ('/', '[\"room:ROOM\"]', '[]', 'message:new', '" + MESSAGE_NEW + "', NULL, 0) RETURNING seq;\n"
             "SELECT pg_notify('switchboard_log', '');\n")


def append(args):
    # PostgreSQL: migrate with the server, then pgbench the two transactions.
    pg = BenchPostgres()
    try:
        url = pg.database("append")
        server = Server(args.binary, url)
        room, _ = setup_direct(server, 1, 1)[0]
        server.stop()
        user = pg_value(pg, "append", "SELECT max(id) FROM users")
        for clients in args.clients:
            for label, extra in (("without log", ""), ("with log", PG_APPEND.replace("ROOM", str(room)))) * args.repeat:
                script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
                script.write(PG_SEND.format(room=room, user=user, append=extra))
                script.close()
                time.sleep(1)
                before, at = tree_cpu_seconds(pg.postmaster()), load()
                out = subprocess.run([f"{pg.bindir}/pgbench", "-n", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "switchboard",
                                      "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(args.seconds), "-f", script.name, "append"],
                                     capture_output=True, text=True, check=True).stdout
                time.sleep(1)  # pgbench's backends have exited and been reaped (their CPU is in the postmaster's cutime)
                cpu = tree_cpu_seconds(pg.postmaster()) - before
                os.unlink(script.name)
                transactions = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
                latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
                tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
                print(f"RESULT append postgres clients={clients} {label}: {tps:.0f} tx/s, latency avg {latency:.3f} ms, "
                      f"postgres CPU {cpu * 1e6 / transactions:.0f} us/tx ({transactions} tx) load={at}-{load()}", flush=True)
    finally:
        pg.destroy()
    # SQLite: the same transactions through Python's sqlite3 on a migrated file.
    import sqlite3
    server = Server(args.binary)
    room, _ = setup_direct(server, 1, 1)[0]
    path = server.sqlite_path
    server.process.terminate()
    server.process.wait(timeout=20)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    user = db.execute("SELECT max(id) FROM users").fetchone()[0]
    data = MESSAGE_NEW.replace("''", "'")
    for label, with_log in (("without log", False), ("with log", True)) * args.repeat:
        for _ in range(2):  # the first pass warms the page cache; the second is reported
            wall, cpu, at = time.perf_counter(), time.process_time(), load()
            for k in range(args.sqlite_transactions):
                db.execute("BEGIN IMMEDIATE")
                message = db.execute("INSERT INTO messages (room_id, author_id, body, client_msg_id, created_at) "
                                     "VALUES (?, ?, 'a benchmark message', ?, 0) RETURNING id",
                                     (room, user, f"{label}-{time.time_ns()}-{k}")).fetchone()[0]
                db.execute("UPDATE rooms SET last_message_id = ? WHERE id = ?", (message, room))
                db.execute("UPDATE memberships SET last_read_message_id = ? WHERE room_id = ? AND user_id = ?", (message, room, user))
                if with_log:
                    db.execute("INSERT INTO event_log (namespace, rooms, except_rooms, event, data, effect, created_at) "
                               "VALUES ('/', ?, '[]', 'message:new', ?, NULL, 0) RETURNING seq", (f'["room:{room}"]', data)).fetchone()
                db.execute("COMMIT")
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        n = args.sqlite_transactions
        print(f"RESULT append sqlite {label}: {wall * 1e6 / n:.1f} us/tx wall, {cpu * 1e6 / n:.1f} us/tx CPU "
              f"(python sqlite3, {n} tx) load={at}-{load()}", flush=True)
    db.close()
    server.stop()


def pg_value(pg, database, query) -> str:
    return subprocess.run([f"{pg.bindir}/psql", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "switchboard", "-d", database,
                           "-tAc", query], check=True, capture_output=True, text=True).stdout.strip()


# ---------------------------------------------------------------- recovery time


class Raw:
    """One Socket.IO v5 client over a raw WebSocket (the recovery fields by hand)."""

    def __init__(self, server, token, pid=None, offset=None):
        self.ws = websocket.create_connection(server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
                                              timeout=30)
        assert self.ws.recv().startswith("0{")
        auth = {"token": token, **({"pid": pid, "offset": offset} if pid else {})}
        self.ws.send("40" + json.dumps(auth))
        reply = json.loads(self.ws.recv()[2:])
        self.sid, self.pid = reply["sid"], reply.get("pid")

    def frames(self):
        while True:
            text = self.ws.recv()
            if text == "2":
                self.ws.send("3")
                continue
            yield text

    def messages(self, count):
        """The next `count` `message:new` events as (payload, offset)."""
        got = []
        for text in self.frames():
            if text.startswith('42["message:new"'):
                event = json.loads(text[2:])
                got.append((event[1], event[-1]))
                if len(got) == count:
                    return got

    def ready(self, token):
        """Waits until the connection handler has run (an acked event comes back)."""
        self.ws.send('4299["auth:refresh",' + json.dumps({"token": token}) + "]")
        for text in self.frames():
            if text.startswith("4399"):
                return


def recovery(args):
    pg = BenchPostgres()
    try:
        for dialect in ("sqlite", "postgres"):
            server = Server(args.binary, pg.database("recovery") if dialect == "postgres" else None)
            try:
                (room, sender_token), (_, token) = setup_direct(server, 1, 2)
                sender = Raw(server, sender_token)
                sender.ready(sender_token)
                spans, cpus, client_cpus, at = [], [], [], []
                for trial in range(args.trials):
                    away = Raw(server, token)
                    away.ready(token)
                    send(sender, room, 1, f"t{trial}-first")
                    (_, offset), = away.messages(1)
                    away.ws.sock.close()           # a dropped transport: the session stays recoverable
                    send(sender, room, args.missed, f"t{trial}")
                    time.sleep(0.5)                # the log tail has delivered them to the sender; the server is idle
                    at.append(load())
                    cpu, own, started = cpu_seconds(server.process.pid), time.process_time(), time.perf_counter()
                    back = Raw(server, token, away.pid, offset)
                    replayed = back.messages(args.missed)
                    spans.append(time.perf_counter() - started)
                    cpus.append(cpu_seconds(server.process.pid) - cpu)
                    client_cpus.append(time.process_time() - own)
                    assert back.sid == away.sid, "not recovered"
                    offsets = [int(o) for _, o in replayed]
                    assert offsets == sorted(set(offsets)) and offsets[0] > int(offset)
                    assert [m["body"] for m, _ in replayed] == [f"t{trial} {i}" for i in range(args.missed)]
                    back.ws.close()
                print(f"RESULT recovery {dialect} missed={args.missed} trials={args.trials}: reconnect to last replayed event "
                      f"median {statistics.median(spans) * 1000:.0f} ms (min {min(spans) * 1000:.0f}, max {max(spans) * 1000:.0f}); "
                      f"server CPU median {statistics.median(cpus) * 1000:.0f} ms; client (Python) CPU median "
                      f"{statistics.median(client_cpus) * 1000:.0f} ms; load={','.join(at)}", flush=True)
            finally:
                server.stop()
    finally:
        pg.destroy()


def send(client, room, count, prefix):
    """`count` message:send, pipelined, each acked ok (bodies "<prefix> <i>", or `prefix` for one)."""
    for i in range(count):
        body = prefix if count == 1 else f"{prefix} {i}"
        client.ws.send(f"42{i + 1}" + json.dumps(["message:send", {"roomId": room, "body": body, "clientMsgId": body}]))
    acked = 0
    for text in client.frames():
        if text.startswith("43"):
            assert '"ok":true' in text, text
            acked += 1
            if acked == count:
                return


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="scenario", required=True)
    f = sub.add_parser("fanout")
    f.add_argument("--binary", required=True)
    f.add_argument("--relay-bench", required=True)
    f.add_argument("--nodes", type=lambda s: [int(n) for n in s.split(",")], default=[1, 3])
    f.add_argument("--rooms", type=int, default=10)
    f.add_argument("--per-room", type=int, default=30)
    f.add_argument("--rates", type=lambda s: [float(n) for n in s.split(",")], default=[60.0], help="messages per second in total, one run each")
    f.add_argument("--warmup", type=float, default=3)
    f.add_argument("--duration", type=float, default=10)
    a = sub.add_parser("append")
    a.add_argument("--binary", required=True)
    a.add_argument("--clients", type=lambda s: [int(n) for n in s.split(",")], default=[1],
                   help="pgbench clients (a node writes one batch at a time: 1 is one node's case)")
    a.add_argument("--seconds", type=int, default=8)
    a.add_argument("--repeat", type=int, default=3, help="runs of each variant, alternating")
    a.add_argument("--sqlite-transactions", type=int, default=2000)
    r = sub.add_parser("recovery")
    r.add_argument("--binary", required=True)
    r.add_argument("--missed", type=int, default=1000)
    r.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    {"fanout": fanout, "append": append, "recovery": recovery}[args.scenario](args)


if __name__ == "__main__":
    main()
