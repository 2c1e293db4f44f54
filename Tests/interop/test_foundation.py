"""The server as an operator meets it: first start, restart, bad configuration, crashes, shutdown."""
import os
import signal
import subprocess
import tempfile
import threading
import time

import requests

from relay_fixture import REPO_ROOT, bin_dir, free_port
from switchboard_fixture import Switchboard


def run_env(data_dir, port, **extra):
    env = dict(os.environ, PORT=str(port), DATA_DIR=data_dir, LOG_LEVEL="info")
    env.pop("DATABASE_URL", None)
    env.update(extra)
    return env


def wait_healthy(url, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited"
        try:
            r = requests.get(url + "/health", timeout=1)
            if r.status_code == 200:
                return r.json()
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise AssertionError("not healthy")


def test_first_start_creates_data_and_a_restart_reuses_them():
    data_dir = tempfile.mkdtemp(prefix="sb-foundation-")
    port = free_port()
    binary = str(bin_dir() / "switchboard")
    first = subprocess.Popen([binary], cwd=REPO_ROOT, env=run_env(data_dir, port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_healthy(f"http://127.0.0.1:{port}", first) == {"status": "ok", "database": "ok"}
        secret_path = os.path.join(data_dir, "jwt-secret")
        assert oct(os.stat(secret_path).st_mode & 0o777) == "0o600"
        secret = open(secret_path).read()
        assert os.path.exists(os.path.join(data_dir, "switchboard.sqlite"))
    finally:
        first.send_signal(signal.SIGTERM)
        output = first.communicate(timeout=20)[0].decode()
    assert first.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output  # the one line with the URL
    second = subprocess.Popen([binary], cwd=REPO_ROOT, env=run_env(data_dir, port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", second)
        assert open(secret_path).read() == secret
    finally:
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=20)[0].decode()
    assert "applied migration" not in output  # nothing to apply the second time


def test_bad_configuration_exits_2_naming_every_bad_key():
    result = subprocess.run([str(bin_dir() / "switchboard")], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
                            env=run_env(tempfile.mkdtemp(), 1, PORT="abc", DATABASE_URL="mysql://x"))
    assert result.returncode == 2
    assert "PORT" in result.stderr and "DATABASE_URL" in result.stderr
    assert result.stderr.count("invalid configuration") == 1


def test_sigkill_during_startup_leaves_a_database_the_next_start_accepts():
    data_dir = tempfile.mkdtemp(prefix="sb-kill-")
    binary = str(bin_dir() / "switchboard")
    for delay in (0.05, 0.15, 0.3, 0.6):
        port = free_port()
        p = subprocess.Popen([binary], cwd=REPO_ROOT, env=run_env(data_dir, port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.kill()
        p.wait()
    port = free_port()
    p = subprocess.Popen([binary], cwd=REPO_ROOT, env=run_env(data_dir, port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_healthy(f"http://127.0.0.1:{port}", p)["database"] == "ok"
        status = subprocess.run([binary, "migrate", "status"], cwd=REPO_ROOT, env=run_env(data_dir, port), capture_output=True, text=True, timeout=30)
        assert status.returncode == 0 and "pending" not in status.stdout and "applied" in status.stdout, status.stdout
    finally:
        p.terminate()
        p.wait(timeout=20)


def test_sigterm_lets_in_flight_requests_finish():
    server = Switchboard()
    try:
        server.api("POST", "/auth/register", json={"email": "slow@example.com", "username": "slowpoke", "password": "correct horse battery"})
        results = []

        def login():
            # scrypt makes a login take a noticeable while: it is in flight when SIGTERM lands.
            results.append(server.api("POST", "/auth/login", json={"login": "slowpoke", "password": "correct horse battery"}).status_code)

        threads = [threading.Thread(target=login) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.2)  # the requests are connected and hashing
        server.process.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(timeout=30)
        assert server.process.wait(timeout=30) == 0
        assert results == [200, 200, 200, 200]
    finally:
        server.stop()


def test_sigterm_is_not_held_up_by_idle_or_websocket_connections():
    """A browser keeps preconnected sockets that have sent no request yet, and open WebSockets:
    neither may hold a graceful shutdown up."""
    import socket as sockets

    server = Switchboard()
    try:
        idle = sockets.create_connection(("127.0.0.1", server.port))  # no request on it, ever
        ws = sockets.create_connection(("127.0.0.1", server.port))
        ws.sendall(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        ws.settimeout(5)
        assert ws.recv(4096).startswith(b"HTTP/1.1 101")
        time.sleep(0.2)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        idle.close()
        ws.close()
    finally:
        server.stop()


def test_start_refuses_accounts_whose_emails_differ_only_in_case_and_lists_them():
    """Issue 11 item 10: a database from before migration 0005 whose accounts collide by letter
    case stops start-up with a message naming each colliding account; nothing is served."""
    import hashlib
    import pathlib
    import sqlite3

    data_dir = tempfile.mkdtemp(prefix="sb-emailcase-")
    migrations = pathlib.Path(REPO_ROOT) / "Migrations"
    db = sqlite3.connect(os.path.join(data_dir, "switchboard.sqlite"))
    db.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)")
    for name in ["0001_users_sessions", "0002_email_tokens_mail_outbox", "0003_rooms_messages", "0004_messages_unread_index"]:
        path = migrations / "sqlite" / f"{name}.sql"
        if not path.exists():
            path = migrations / f"{name}.sql"
        sql = path.read_text(encoding="utf-8")
        db.executescript(sql)
        db.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (name, hashlib.sha256(sql.encode()).hexdigest()))
    for i, email in enumerate(["Ann@example.com", "ann@example.com", "bob@example.com"], start=1):
        db.execute("INSERT INTO users (id, email, username, display_name, password_hash, created_at, updated_at) "
                   "VALUES (?, ?, ?, 'x', 'x', 0, 0)", (i, email, f"user{i}"))
    db.commit()
    db.close()

    port = free_port()
    binary = str(bin_dir() / "switchboard")
    result = subprocess.run([binary], cwd=REPO_ROOT, env=run_env(data_dir, port), capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "0005_users_email_key" in output, output
    assert "ann@example.com: id 1 <Ann@example.com> (username user1), id 2 <ann@example.com> (username user2)" in output, output
    assert "bob@example.com" not in output, output
