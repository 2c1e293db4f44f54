"""Where a durable `message:send` spends the server's CPU: `perf record` (cpu-clock samples with
frame-pointer call graphs) of switchboard over a window of sends, plus the server's CPU time from
/proc and the messages stored in the same window.

    python3 Benchmarks/chat_profile.py --binary .build-release/release/switchboard \
        --relay-bench .build-release/release/relay-bench --seconds 20 --out /tmp/chat.perf \
        [--database-url postgres://…] [-- --rate 500]

perf launches the server (attaching to a running process is refused in some sandboxes) with its
events disabled; the script connects every user (`chat_bench.py --setup direct`'s rooms and
tokens), starts `relay-bench chat` (default: closed loop, one send in flight per client), waits
for the sends to flow, enables the events for `--seconds`, then reports the messages stored, the
server CPU per message (utime + stime over the window; a loaded machine stretches wall time, not
this) and leaves the samples at `--out` for `perf report -i <out> --no-children --sort dso,sym`.
(valgrind 3.19 crashes on any Swift concurrency program here, in libdispatch's thread creation,
so callgrind's instruction counts are not available.)
"""
import argparse
import os
import sqlite3
import stat
import subprocess
import tempfile
import time

from bench_server import Server
from chat_bench import setup_direct


def stored_messages(server: Server) -> int:
    if server.database_url:
        out = subprocess.run(["psql", "-At", "-c", "SELECT count(*) FROM messages", server.database_url],
                             text=True, check=True, capture_output=True).stdout
        return int(out.strip())
    with sqlite3.connect(server.sqlite_path, timeout=30) as db:
        return db.execute("SELECT count(*) FROM messages").fetchone()[0]


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--relay-bench", required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--per-room", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--frequency", type=int, default=1000, help="perf samples per CPU-second")
    parser.add_argument("--out", required=True, help="perf.data file")
    parser.add_argument("bench_args", nargs="*")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="chat-profile-")
    ctl, ack = os.path.join(work, "ctl"), os.path.join(work, "ack")
    os.mkfifo(ctl)
    os.mkfifo(ack)
    wrapper = os.path.join(work, "switchboard.sh")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec perf record -q -e cpu-clock -F {args.frequency} --call-graph=fp -D -1 "
                f"--control=fifo:{ctl},{ack} -o {os.path.abspath(args.out)} -- {os.path.abspath(args.binary)} \"$@\"\n")
    os.chmod(wrapper, stat.S_IRWXU)

    server = Server(wrapper, args.database_url)
    bench = None
    ctl_w = open(ctl, "w")
    ack_r = open(ack, "r")

    def command(text: str) -> None:
        ctl_w.write(text + "\n")
        ctl_w.flush()
        reply = ack_r.readline().strip("\x00 \n")
        if reply != "ack":
            print(f"perf answered {reply!r} to {text}")

    try:
        child = int(subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout.split()[0])
        assignments = setup_direct(server, args.rooms, args.per_room)
        tokens = os.path.join(work, "tokens")
        with open(tokens, "w") as f:
            f.write("".join(f"{room} {token}\n" for room, token in assignments))
        bench = subprocess.Popen([args.relay_bench, "chat", "--port", str(server.port), "--tokens", tokens,
                                  "--warmup", "100000", "--duration", "1", *(args.bench_args or [])],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while stored_messages(server) < 2 * len(assignments) and time.monotonic() < deadline:
            time.sleep(0.5)
        first, cpu0, t0 = stored_messages(server), cpu_seconds(child), time.monotonic()
        command("enable")
        time.sleep(args.seconds)
        command("disable")
        last, cpu1, t1 = stored_messages(server), cpu_seconds(child), time.monotonic()
        count = max(1, last - first)
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"database: {'postgres' if args.database_url else 'sqlite'}; relay-bench chat {' '.join(args.bench_args) or '(closed loop, 1 in flight)'}; "
              f"{len(assignments)} clients in rooms of {args.per_room}; load average {load}")
        print(f"{last - first} messages stored in {t1 - t0:.1f} s = {(last - first) / (t1 - t0):.0f}/s; "
              f"server CPU {cpu1 - cpu0:.2f} s = {(cpu1 - cpu0) * 1e6 / count:.0f} µs per message (with its {args.per_room} deliveries)")
        print(f"perf samples: {os.path.abspath(args.out)}")
    finally:
        if bench:
            bench.terminate()
            bench.wait(timeout=30)
        server.stop()
        ctl_w.close()
        ack_r.close()


if __name__ == "__main__":
    main()
