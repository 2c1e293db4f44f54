"""Debian's nginx in front of two nodes with sticky routing (ip_hash), as docs/DEPLOYMENT.md and
docker-compose.yml configure it: long-polling and WebSocket clients (python-socketio) both work
through it, and reach users on the other node (issue 13)."""
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest
import requests

from cluster_fixture import Cluster, clients  # noqa: F401 (clients is a fixture)
from relay_fixture import REPO_ROOT, free_port
from switchboard_fixture import wait_healthy

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_conf(directory: str, port: int, upstreams: list[int], sticky: bool) -> str:
    """deploy/nginx.conf with this test's ports and paths (the same server block)."""
    template = (REPO_ROOT / "deploy" / "nginx.conf").read_text()
    servers = "\n".join(f"    server 127.0.0.1:{p};" for p in upstreams)
    body = template.replace("    server node1:8080;\n    server node2:8080;", servers)
    assert servers in body
    body = body.replace("listen 80;", f"listen 127.0.0.1:{port};")
    if not sticky:
        body = body.replace("ip_hash;", "# round robin (no ip_hash)")
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
{body}
}}
"""


class Nginx:
    def __init__(self, upstreams: list[int], port: int, sticky=True):
        self.dir = tempfile.mkdtemp(prefix="switchboard-nginx-")
        self.port = port
        conf = pathlib.Path(self.dir) / "nginx.conf"
        conf.write_text(nginx_conf(self.dir, self.port, upstreams, sticky))
        self.process = subprocess.Popen([NGINX, "-p", self.dir, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}"
        if wait_healthy(self.url, 10):
            return
        self.stop()
        raise RuntimeError("nginx did not start: " + (pathlib.Path(self.dir) / "error.log").read_text(errors="replace"))

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    if not os.path.exists(NGINX):
        pytest.fail("nginx is not installed (scripts/test installs Debian's nginx)")
    # Browsers and websocket-client send an Origin: the public origin is nginx's (PUBLIC_URL in
    # production; here ALLOWED_ORIGINS, since each node's own URL is its PUBLIC_URL).
    port = free_port()
    c = Cluster(2, ALLOWED_ORIGINS=f"http://127.0.0.1:{port}")
    c.proxy_port = port
    yield c
    c.stop()



@pytest.mark.parametrize("transports,ends_on", [
    (("polling",), "polling"),
    (("websocket",), "websocket"),
    (("polling", "websocket"), "websocket"),   # python-socketio's default: polling, then the upgrade
])
def test_clients_work_through_nginx_with_sticky_routing(cluster, clients, transports, ends_on):
    proxy = Nginx([n.port for n in cluster.nodes], cluster.proxy_port)
    try:
        ann, bob = cluster.new_user("ann"), cluster.new_user("bob")
        room = cluster.room_of(ann, bob)
        through_proxy = clients(proxy.url, ann, transports=transports)
        # bob is on each node directly: one of them is the node nginx did not pick
        bobs = [clients(node.url, bob) for node in cluster.nodes]

        ack = through_proxy.call("message:send", {"roomId": room["id"], "body": f"via nginx {ends_on}", "clientMsgId": "n-1"})
        assert ack["ok"] is True, ack
        for b in bobs:
            b.wait_for("message:new", lambda m: m["id"] == ack["message"]["id"])
        ack = bobs[1].call("message:send", {"roomId": room["id"], "body": "back through nginx", "clientMsgId": "n-2"})
        through_proxy.wait_for("message:new", lambda m: m["id"] == ack["message"]["id"])
        time.sleep(0.5)   # an upgrade, if any, has settled
        assert through_proxy.transport == ends_on
        assert through_proxy.client.connected
    finally:
        proxy.stop()


def test_polling_needs_sticky_routing(cluster):
    """Why deploy/nginx.conf has ip_hash: round robin sends a polling session's requests to a
    node that does not know its sid (Engine.IO answers 400 "Session ID unknown")."""
    proxy = Nginx([n.port for n in cluster.nodes], cluster.proxy_port, sticky=False)
    try:
        open_reply = requests.get(proxy.url + "/socket.io/?EIO=4&transport=polling", timeout=5)
        assert open_reply.status_code == 200
        sid = open_reply.text.split('"sid":"')[1].split('"')[0]
        statuses = []
        for _ in range(2):   # round robin: one of two consecutive requests reaches the other node
            try:
                statuses.append(requests.get(proxy.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", timeout=3).status_code)
            except requests.Timeout:
                statuses.append("held")   # the node holding the session keeps the GET open
        assert 400 in statuses, statuses
    finally:
        proxy.stop()
