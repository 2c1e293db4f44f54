"""Shared helpers for the benchmarks: start a Switchboard binary on a free port with a
fresh data directory (SQLite by default, or DATABASE_URL), and register users."""
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import requests

ROOT = pathlib.Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary: str, database_url: str | None = None, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix="switchboard-bench-")
        environment = dict(os.environ, PORT=str(self.port), DATA_DIR=self.data_dir, PUBLIC_URL=self.url,
                           LOG_LEVEL="warning", REGISTRATIONS_PER_IP_PER_HOUR="1000000",
                           FRONTEND_DIR=str(ROOT / "frontend"), MIGRATIONS_DIR=str(ROOT / "Migrations"))
        environment.pop("DATABASE_URL", None)
        if database_url:
            environment["DATABASE_URL"] = database_url
        environment.update(env)
        self.database_url = database_url
        self.sqlite_path = os.path.join(self.data_dir, "switchboard.sqlite")
        self.log = open(os.path.join(self.data_dir, "server.log"), "wb")
        self.process = subprocess.Popen([binary], cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def api(self, method, path, token=None, session=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return (session or requests).request(method, self.url + "/api" + path, headers=headers, timeout=30, **kwargs)

    def register(self, name: str, password: str = "benchmark password") -> None:
        r = self.api("POST", "/auth/register", json={"email": f"{name}@example.com", "username": name, "password": password})
        assert r.status_code == 202, r.text

    def verify(self, name: str) -> None:
        email = f"{name}@example.com"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for mail in requests.get(self.url + "/dev/mailbox.json", timeout=5).json().get("messages", []):
                to = mail.get("to")
                if email in (to if isinstance(to, list) else [to]) and "verify-email?token=" in mail.get("text", ""):
                    token = mail["text"].split("verify-email?token=")[1].split()[0]
                    assert self.api("POST", "/auth/verify-email", json={"token": token}).status_code == 200
                    return
            time.sleep(0.1)
        raise RuntimeError(f"no verification mail for {email}")

    def login(self, name: str, password: str = "benchmark password") -> dict:
        r = self.api("POST", "/auth/login", json={"login": name, "password": password, "refreshTokenInBody": True})
        assert r.status_code == 200, r.text
        return r.json()


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[index]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"
