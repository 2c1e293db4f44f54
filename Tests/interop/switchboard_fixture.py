"""Starts the built `switchboard` server on a free port with a fresh data directory,
and small REST helpers for the interop and browser tests."""
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import requests

from relay_fixture import REPO_ROOT, bin_dir, free_port


def wait_healthy(url: str, timeout: float, alive=lambda: None) -> bool:
    """Polls `url`/health until it answers 200 (True) or `timeout` seconds pass (False);
    `alive()` runs before each try and may raise to give up early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive()
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            time.sleep(0.1)
    return False


class Switchboard:
    def __init__(self, **env: str):
        binary = bin_dir() / "switchboard"
        if not binary.exists():
            raise RuntimeError(f"{binary} not found: build it with `swift build --product switchboard`")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix="switchboard-interop-")
        environment = dict(os.environ)
        environment.update({
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "DATA_DIR": self.data_dir,
            "PUBLIC_URL": self.url,
            "LOG_LEVEL": "warning",
            "FRONTEND_DIR": str(REPO_ROOT / "frontend"),
            "MIGRATIONS_DIR": str(REPO_ROOT / "Migrations"),
            # Every test user registers from 127.0.0.1.
            "REGISTRATIONS_PER_IP_PER_HOUR": "100000",
        })
        environment.pop("DATABASE_URL", None)
        if os.environ.get("INTEROP_DATABASE_URL"):
            environment["DATABASE_URL"] = os.environ["INTEROP_DATABASE_URL"]
        environment.update(env)
        self.log_path = pathlib.Path(self.data_dir) / "server.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([str(binary)], cwd=REPO_ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        def alive():
            if self.process.poll() is not None:
                raise RuntimeError(f"switchboard exited: {self.log_path.read_text(errors='replace')}")
        if not wait_healthy(self.url, timeout, alive):
            self.stop()
            raise RuntimeError("switchboard did not become healthy")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # REST helpers

    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url + "/api" + path, headers=headers, timeout=60, **kwargs)

    def new_user(self, prefix: str = "u", password: str = "correct horse battery") -> dict:
        """Registers (and verifies, through the development mailbox) a fresh user; returns its login."""
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        email = f"{name}@example.com"
        r = self.api("POST", "/auth/register", json={"email": email, "username": name, "password": password, "displayName": prefix.capitalize()})
        assert r.status_code == 202, r.text
        self.verify_email(email)
        return self.login(name, password)

    def mail_link(self, email: str, path: str, timeout: float = 10.0) -> str:
        """The newest link to `path` mailed to `email` (the outbox delivers asynchronously)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mails = requests.get(self.url + "/dev/mailbox.json", timeout=5).json()
            items = mails.get("messages", mails) if isinstance(mails, dict) else mails
            for mail in items:
                to = mail.get("to")
                recipients = to if isinstance(to, list) else [to]
                text = mail.get("text", "")
                marker = path + "?token="
                if email in recipients and marker in text:
                    token = text.split(marker)[1].split()[0]
                    return f"{path}?token={token}"
            time.sleep(0.1)
        raise AssertionError(f"no {path} mail for {email}")

    def verify_email(self, email: str) -> None:
        link = self.mail_link(email, "/verify-email")
        r = self.api("POST", "/auth/verify-email", json={"token": link.split("token=")[1]})
        assert r.status_code in (200, 204), r.text

    def login(self, login: str, password: str = "correct horse battery") -> dict:
        r = self.api("POST", "/auth/login", json={"login": login, "password": password, "refreshTokenInBody": True})
        assert r.status_code == 200, r.text
        return r.json()
