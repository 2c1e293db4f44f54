#!/usr/bin/env bash
# The realtime benchmarks of docs/BENCHMARKS.md: idle connections, one-room fan-out,
# two-person rooms (against relay-conformance --bench) and durable chat sends (against
# switchboard, SQLite and optionally PostgreSQL).
#
#   Benchmarks/realtime_bench.sh [connect|fanout|pairs|chat|all]
#   DATABASE_URL=postgres://switchboard@127.0.0.1:55432/bench1 Benchmarks/realtime_bench.sh chat
#
# Builds nothing: run `swift build -c release --scratch-path .build-release --product relay-bench`
# (and relay-conformance, switchboard) first. BIN overrides the binary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build-release/release}
PORT=${PORT:-3210}
ulimit -n "$(ulimit -Hn)"

start_fixture() {
    "$BIN/relay-conformance" --bench --port "$PORT" &
    FIXTURE=$!
    for _ in $(seq 50); do
        if (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then return; fi
        sleep 0.1
    done
    echo "relay-conformance did not start" >&2; exit 1
}
stop_fixture() { kill "$FIXTURE"; wait "$FIXTURE" 2>/dev/null || true; }

run_connect() {
    for rate in ${CONNECT_RATES:-3000 6000 0}; do
        start_fixture
        echo "== connect: ${CONNECT_CLIENTS:-10000} idle connections at ${rate}/s (0 = unlimited), fresh server"
        "$BIN/relay-bench" connect --port "$PORT" --server-pid "$FIXTURE" --clients "${CONNECT_CLIENTS:-10000}" --connect-rate "$rate"
        stop_fixture
    done
}

run_fanout() {
    start_fixture
    echo "== fanout: 1000 clients in one room, 50 msg/s"
    "$BIN/relay-bench" fanout --port "$PORT" --server-pid "$FIXTURE" --clients 1000 --rate 50 --warmup 5 --duration 20
    stop_fixture
}

run_pairs() {
    start_fixture
    echo "== pairs: 5000 clients in 2500 two-person rooms"
    "$BIN/relay-bench" pairs --port "$PORT" --server-pid "$FIXTURE" --clients 5000 --warmup 3 --duration 10 \
        --rates "${PAIRS_RATES:-5000,10000,15000,20000,22500,25000,27500,30000}"
    stop_fixture
}

run_chat() {
    echo "== chat: 100 rooms x 10 users, durable message:send (${DATABASE_URL:+postgres}${DATABASE_URL:-sqlite})"
    python3 Benchmarks/chat_bench.py --binary "$BIN/switchboard" --relay-bench "$BIN/relay-bench" \
        ${DATABASE_URL:+--database-url "$DATABASE_URL"} -- ${CHAT_ARGS:---in-flight 1 --warmup 3 --duration 15 ";" --rate 300 --warmup 3 --duration 15}
}

case "${1:-all}" in
    connect) run_connect ;;
    fanout) run_fanout ;;
    pairs) run_pairs ;;
    chat) run_chat ;;
    all) run_connect; run_fanout; run_pairs; run_chat ;;
    *) echo "usage: $0 [connect|fanout|pairs|chat|all]" >&2; exit 2 ;;
esac
