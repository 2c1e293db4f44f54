"""Login latency at 1, 8 and 32 concurrent logins (scrypt N=2^15, r=8, p=3).

    python3 Benchmarks/login_bench.py --binary .build-release/release/switchboard [--database-url postgres://…]
"""
import argparse
import concurrent.futures
import time

import requests

from bench_server import Server, percentile, unique


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--requests", type=int, default=96, help="logins per concurrency level")
    args = parser.parse_args()

    server = Server(args.binary, args.database_url)
    try:
        users = [unique("login") for _ in range(32)]
        for name in users:
            server.register(name)
        stored = server.login(users[0])
        print(f"database: {'postgres' if args.database_url else 'sqlite'}; password hash: scrypt (see PHC string params in the users table)")
        for concurrency in (1, 8, 32):
            latencies: list[float] = []

            def worker(index: int):
                session = requests.Session()
                mine = []
                for i in range(index, args.requests, concurrency):
                    start = time.perf_counter()
                    r = server.api("POST", "/auth/login", session=session, json={"login": users[i % len(users)], "password": "benchmark password", "refreshTokenInBody": True})
                    mine.append(time.perf_counter() - start)
                    assert r.status_code == 200, r.text
                return mine

            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                for result in pool.map(worker, range(concurrency)):
                    latencies += result
            elapsed = time.perf_counter() - started
            print(f"concurrency {concurrency:>2}: {len(latencies)} logins, p50 {percentile(latencies, 50) * 1000:.0f} ms, "
                  f"p99 {percentile(latencies, 99) * 1000:.0f} ms, {len(latencies) / elapsed:.1f} logins/s")
        assert stored["user"]["username"] == users[0]
    finally:
        server.stop()


if __name__ == "__main__":
    main()
