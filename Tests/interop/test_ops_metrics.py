"""Operations endpoints of the real server: /metrics after real traffic (Prometheus text), its
token and separate port, /ready while draining, and TRUSTED_PROXIES deciding which client a
per-IP rate limit counts."""
import re
import signal
import time
import uuid

import pytest
import requests
import socketio

from relay_fixture import free_port
from switchboard_fixture import Switchboard


@pytest.fixture
def started():
    servers = []

    def start(**env):
        s = Switchboard(**env)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def sample(text: str, name: str, **labels) -> float | None:
    """The value of the sample `name{labels}` in a Prometheus text exposition (None if absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


def test_metrics_after_real_traffic(started):
    server = started()
    ann, bob = server.new_user("ann"), server.new_user("bob")
    assert server.api("POST", "/auth/login", json={"login": ann["user"]["username"], "password": "wrong password!"}).status_code == 401
    r = server.api("POST", "/rooms", ann["accessToken"], json={"name": f"m-{uuid.uuid4().hex[:6]}", "kind": "public"})
    room = r.json()
    assert server.api("POST", f"/rooms/{room['id']}/join", bob["accessToken"]).status_code == 200
    a = socketio.Client(reconnection=False)
    b = socketio.Client(reconnection=False)
    a.connect(server.url, auth={"token": ann["accessToken"]}, transports=["websocket"], wait_timeout=10)
    b.connect(server.url, auth={"token": bob["accessToken"]}, transports=["polling"], wait_timeout=10)
    try:
        for i in range(3):
            ack = a.call("message:send", {"roomId": room["id"], "body": f"m{i}", "clientMsgId": f"m-{i}"}, timeout=10)
            assert ack["ok"] is True, ack
        a.emit("no:such:handler", {})  # counted, by its own (well-formed) name
        time.sleep(0.3)
        r = requests.get(server.url + "/metrics", timeout=5)
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.text
        assert sample(text, "switchboard_connections", transport="websocket") == 1
        assert sample(text, "switchboard_connections", transport="polling") == 1
        assert sample(text, "switchboard_sockets", namespace="/") == 2
        assert sample(text, "switchboard_socket_events_received_total", event="message:send") == 3
        assert sample(text, "switchboard_socket_ack_duration_seconds_count", event="message:send") == 3
        assert sample(text, "switchboard_socket_ack_duration_seconds_bucket", event="message:send", le="+Inf") == 3
        # each message:new reached both sockets (and the log's other events reached some)
        assert sample(text, "switchboard_socket_deliveries_total") >= 6
        assert sample(text, "switchboard_login_failures_total") == 1
        # two verification mails went through the outbox (development mailbox)
        assert sample(text, "switchboard_mail_outbox_rows", status="sent") == 2
        assert sample(text, "switchboard_http_responses_total", **{"class": "2xx"}) >= 1
    finally:
        a.disconnect()
        b.disconnect()


def test_metrics_token_is_required_when_set(started):
    token = "metrics-" + uuid.uuid4().hex
    server = started(METRICS_TOKEN=token)
    assert requests.get(server.url + "/metrics", timeout=5).status_code == 401
    assert requests.get(server.url + "/metrics", headers={"Authorization": "Bearer wrong-token-wrong-token"}, timeout=5).status_code == 401
    r = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 200 and "switchboard_sockets" in r.text


def test_metrics_on_a_separate_port(started):
    port = free_port()
    server = started(METRICS_PORT=str(port))
    assert requests.get(server.url + "/metrics", timeout=5).status_code == 404
    r = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert r.status_code == 200 and "switchboard_connections" in r.text


def test_metrics_off_in_production_without_token_or_port(started):
    server = started(ENVIRONMENT="production", JWT_SECRET="x" * 40, RESEND_API_KEY="re_test_key", RESEND_BASE_URL="http://127.0.0.1:9")
    assert requests.get(server.url + "/metrics", timeout=5).status_code == 404


def test_ready_and_health(started):
    server = started(DRAIN_DELAY="5")
    r = requests.get(server.url + "/ready", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "database": "ok", "migrations": "current", "draining": False}
    server.process.send_signal(signal.SIGTERM)
    # during DRAIN_DELAY the node still serves, but reports not ready
    deadline = time.monotonic() + 4
    seen = None
    while time.monotonic() < deadline:
        seen = requests.get(server.url + "/ready", timeout=2)
        if seen.status_code == 503:
            break
        time.sleep(0.05)
    assert seen.status_code == 503, seen.text
    assert seen.json()["draining"] is True and seen.json()["status"] == "not_ready"
    assert requests.get(server.url + "/health", timeout=2).status_code == 200
    assert server.process.wait(timeout=20) == 0


def register(server, forwarded_for: str | None):
    name = f"r{uuid.uuid4().hex[:8]}"
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return server.api("POST", "/auth/register", headers=headers,
                      json={"email": f"{name}@example.com", "username": name, "password": "correct horse battery", "displayName": "R"})


def test_trusted_proxy_forwarded_for_gets_separate_rate_limit_buckets(started):
    server = started(REGISTRATIONS_PER_IP_PER_HOUR="2", TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1/32, ::1")
    # the client sits left of the proxies; a forged leftmost entry changes nothing
    for _ in range(2):
        assert register(server, "198.51.100.7, 10.1.2.3").status_code == 202
    refused = register(server, "203.0.113.99, 198.51.100.7, 10.1.2.3")
    assert refused.status_code == 429, refused.text
    # a client's own `Forwarded` (which nginx passes through untouched) is not read: only
    # TRUSTED_PROXY_HEADER (default X-Forwarded-For) names the client
    name = f"r{uuid.uuid4().hex[:8]}"
    forged = server.api("POST", "/auth/register", headers={"Forwarded": "for=203.0.113.50", "X-Forwarded-For": "198.51.100.7"},
                        json={"email": f"{name}@example.com", "username": name, "password": "correct horse battery", "displayName": "R"})
    assert forged.status_code == 429, forged.text
    # another client behind the same proxy has its own bucket
    assert register(server, "198.51.100.8").status_code == 202
    r = requests.get(server.url + "/metrics", timeout=5)
    assert sample(r.text, "switchboard_rate_limited_total", route="/api/auth/register") == 2


def test_untrusted_peer_forwarded_for_is_ignored(started):
    server = started(REGISTRATIONS_PER_IP_PER_HOUR="2")
    assert register(server, "198.51.100.7").status_code == 202
    assert register(server, "198.51.100.8").status_code == 202
    # both counted against the peer (127.0.0.1): the third is refused whatever the header says
    assert register(server, "198.51.100.9").status_code == 429
