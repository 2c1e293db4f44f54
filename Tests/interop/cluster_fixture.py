"""Several real `switchboard` processes on one real, throwaway PostgreSQL (started here with
initdb/pg_ctl, as scripts/test's start_postgres does, so a test can restart it), and the
python-socketio client the cluster tests use."""
import glob
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import requests
import socketio

from event_recorder import EventRecorder
from relay_fixture import free_port
from switchboard_fixture import Switchboard

# A node silent this long is declared dead (CLUSTER_NODE_TIMEOUT): short, so a test of a
# killed node finishes quickly; heartbeats are a fifth of it.
NODE_TIMEOUT_S = 3


def pg_bindir() -> str:
    if os.environ.get("PG_BINDIR"):
        return os.environ["PG_BINDIR"]
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise RuntimeError("no PostgreSQL (initdb) found: scripts/test installs Debian's postgresql")


class Postgres:
    """A throwaway PostgreSQL server this test owns (so it may restart it)."""

    def __init__(self):
        self.bindir = pg_bindir()
        self.dir = tempfile.mkdtemp(prefix="switchboard-cluster-pg-")
        self.run_as = []
        if os.geteuid() == 0:
            if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--system", "--home-dir", self.dir, "postgres"], check=True)
            shutil.chown(self.dir, "postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        subprocess.run(self.run_as + [f"{self.bindir}/initdb", "-D", f"{self.dir}/data", "-U", "switchboard", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True)
        self.start()
        subprocess.run([f"{self.bindir}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "switchboard", "-d", "postgres",
                        "-qc", "CREATE DATABASE switchboard"], check=True, capture_output=True)
        self.url = f"postgres://switchboard@127.0.0.1:{self.port}/switchboard"

    def start(self):
        subprocess.run(self.run_as + [f"{self.bindir}/pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-o",
                                      f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                                      "start"], check=True, capture_output=True)

    def stop(self, mode="fast"):
        subprocess.run(self.run_as + [f"{self.bindir}/pg_ctl", "-D", f"{self.dir}/data", "-m", mode, "-w", "stop"], check=False, capture_output=True)

    def sql(self, statement: str) -> str:
        out = subprocess.run([f"{self.bindir}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "switchboard", "-d", "switchboard",
                              "-tAc", statement], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Cluster:
    """`count` nodes on one PostgreSQL. Users are registered without mail (REQUIRE_VERIFIED_EMAIL
    off: each node has its own development mailbox, and any node's outbox worker may send)."""

    def __init__(self, count: int = 3, **env: str):
        self.pg = Postgres()
        self.env = {
            "DATABASE_URL": self.pg.url,
            "JWT_SECRET": "cluster-test-secret-" + uuid.uuid4().hex,
            "REQUIRE_VERIFIED_EMAIL": "false",
            "CLUSTER_NODE_TIMEOUT": str(NODE_TIMEOUT_S),
            **env,
        }
        self.nodes: list[Switchboard] = []
        try:
            for _ in range(count):
                self.nodes.append(Switchboard(**self.env))
        except Exception:
            self.stop()
            raise

    def stop(self):
        for node in self.nodes:
            if node.process.poll() is None:
                node.stop()
        self.pg.destroy()

    def new_user(self, prefix="u", node=None) -> dict:
        node = node or self.nodes[0]
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        r = node.api("POST", "/auth/register", json={"email": f"{name}@example.com", "username": name,
                                                       "password": "correct horse battery", "displayName": prefix.capitalize()})
        assert r.status_code == 202, r.text
        return node.login(name)

    def room_of(self, owner: dict, *members: dict) -> dict:
        node = self.nodes[0]
        r = node.api("POST", "/rooms", owner["accessToken"], json={"name": f"room-{uuid.uuid4().hex[:6]}", "kind": "public"})
        assert r.status_code == 201, r.text
        room = r.json()
        for member in members:
            assert node.api("POST", f"/rooms/{room['id']}/join", member["accessToken"]).status_code == 200
        return room


def node_is_listening(node: Switchboard) -> bool:
    """Whether the node answers /health (used after restarts)."""
    try:
        return requests.get(node.url + "/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


class Client(EventRecorder):
    """One python-socketio client, collecting the events it receives."""

    EVENTS = ("message:new", "room:member", "read", "typing", "presence", "auth:token", "room:deleted")

    def __init__(self, url: str, token: str, transports=("websocket",), reconnection=False, urls=None):
        super().__init__()
        self.client = socketio.Client(reconnection=reconnection, reconnection_delay=0.2, reconnection_delay_max=0.5)
        self.disconnected = threading.Event()
        self.connects = 0
        for name in self.EVENTS:
            self.client.on(name, self._recorder(name))
        self.client.on("disconnect", lambda *args: self.disconnected.set())
        self.client.on("connect", self._connected)
        self.client.connect(url, auth={"token": token}, transports=list(transports), wait_timeout=10)
        # The CONNECT reply comes before the server's connection handler has joined the socket's
        # rooms; an acked event is handled only after it, so this ack means "in its rooms now".
        assert self.call("auth:refresh", {"token": token})["ok"] is True

    def _connected(self):
        with self.cond:
            self.connects += 1
            self.cond.notify_all()

    def call(self, event, data, timeout=10):
        return self.client.call(event, data, timeout=timeout)

    @property
    def transport(self) -> str:
        return self.client.transport()

    def close(self):
        if self.client.connected:
            self.client.disconnect()


@pytest.fixture
def clients():
    """`clients(node_or_url, user, **kwargs)` opens a ``Client`` with the user's access token on a
    node (or any URL, e.g. nginx in front of the nodes); every one is closed after the test.
    Test modules import it (`from cluster_fixture import clients`) to use it as a fixture."""
    opened = []

    def open_client(target, user, **kwargs):
        url = target if isinstance(target, str) else target.url
        client = Client(url, user["accessToken"], **kwargs)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()
