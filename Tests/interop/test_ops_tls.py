"""TLS served by the server itself (TLS_CERT_FILE / TLS_KEY_FILE): python-socketio over wss://
verifying the chain of a throwaway CA, REST over https with HSTS, and certificate reload on
SIGHUP without dropping open connections."""
import pathlib
import socket
import subprocess
import ssl
import threading
import time
import uuid

import pytest
import requests
import socketio

from ops_tls_support import ThrowawayCA, TLSSwitchboard, pem_to_der, served_certificate


@pytest.fixture
def ca(tmp_path: pathlib.Path, monkeypatch) -> ThrowawayCA:
    authority = ThrowawayCA(tmp_path)
    # requests (the REST helpers, python-socketio's polling) verify against the test CA
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.cert))
    return authority


@pytest.fixture
def server(ca):
    s = TLSSwitchboard(ca, LOG_LEVEL="info")
    yield s
    s.stop()


def connect(server, token: str, transports=None) -> socketio.Client:
    """A python-socketio client over https/wss that verifies the server's chain with the test CA."""
    session = requests.Session()
    session.verify = str(server.ca.cert)
    client = socketio.Client(reconnection=False, http_session=session)
    client.connect(server.url, auth={"token": token}, transports=transports, wait_timeout=10)
    return client


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def make_room(server, token):
    r = server.api("POST", "/rooms", token, json={"name": f"tls-{uuid.uuid4().hex[:6]}", "kind": "public"})
    assert r.status_code == 201, r.text
    return r.json()


def test_rest_over_https_has_hsts_and_verifies_chain(server):
    r = requests.get(server.url + "/health", verify=str(server.ca.cert), timeout=5)
    assert r.status_code == 200
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    # API answers (errors too) carry it as well
    r = server.api("GET", "/rooms")
    assert r.status_code == 401
    assert "Strict-Transport-Security" in r.headers
    # without the CA the chain does not verify: it is really TLS with our certificate
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
    # TLS 1.2 is the floor: a TLS 1.1-only client is refused
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(str(server.ca.cert))
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError):
            old.wrap_socket(raw, server_hostname="localhost")


def test_socketio_over_wss_with_default_transports_ends_on_websocket(server):
    ann = server.new_user("ann")
    room = make_room(server, ann["accessToken"])
    client = connect(server, ann["accessToken"])  # default transports: polling, then upgrade
    try:
        assert wait_for(lambda: client.transport() == "websocket"), client.transport()
        ack = client.call("message:send", {"roomId": room["id"], "body": "over wss", "clientMsgId": "tls-1"}, timeout=10)
        assert ack["ok"] is True, ack
        assert client.transport() == "websocket"
    finally:
        client.disconnect()


def test_websocket_only_over_wss(server):
    ann = server.new_user("ann")
    client = connect(server, ann["accessToken"], transports=["websocket"])
    try:
        assert client.transport() == "websocket"
    finally:
        client.disconnect()


def test_sighup_serves_new_certificate_and_keeps_open_websocket(server):
    first = pem_to_der(server.cert_file)
    assert served_certificate(server.port, server.ca.cert) == first
    ann = server.new_user("ann")
    room = make_room(server, ann["accessToken"])
    client = connect(server, ann["accessToken"], transports=["websocket"])
    dropped = threading.Event()
    client.on("disconnect", lambda *a: dropped.set())
    try:
        cert, key = server.ca.issue("second")
        server.install(cert, key)
        server.reload()
        assert "TLS certificate reloaded" in server.log_path.read_text(errors="replace")
        # a new connection gets the new certificate ...
        assert served_certificate(server.port, server.ca.cert) == pem_to_der(cert)
        # ... while the WebSocket opened before the reload stays open and working
        ack = client.call("message:send", {"roomId": room["id"], "body": "still here", "clientMsgId": "tls-2"}, timeout=10)
        assert ack["ok"] is True, ack
        assert not dropped.is_set() and client.connected
    finally:
        client.disconnect()


@pytest.mark.parametrize("spoil", ["garbage", "mismatched key", "expired"])
def test_bad_certificate_on_reload_keeps_the_old_one(server, spoil):
    first = pem_to_der(server.cert_file)
    if spoil == "garbage":
        server.cert_file.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    elif spoil == "mismatched key":
        cert, _ = server.ca.issue("other-a")
        _, key = server.ca.issue("other-b")
        server.install(cert, key)
    else:
        cert, key = server.ca.issue("expired", days=1, start="200101000000Z")
        server.install(cert, key)
    server.reload()
    log = server.log_path.read_text(errors="replace")
    assert "TLS certificate reload failed" in log, log
    assert served_certificate(server.port, server.ca.cert) == first
    assert requests.get(server.url + "/health", verify=str(server.ca.cert), timeout=5).status_code == 200


def s_client(server, *args: str) -> tuple[bool, str]:
    """An `openssl s_client` TLS 1.2 handshake with `args`; whether it finished, and its output."""
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost",
                        "-tls1_2", *args], input=b"", capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode(errors="replace")
    return r.returncode == 0 and "Cipher is (NONE)" not in out, out


@pytest.mark.parametrize("key_type", ["rsa", "ec"])
def test_tls12_offers_only_forward_secret_aead_suites(ca, key_type):
    """Mozilla's "intermediate" TLS 1.2 suites: static-RSA key exchange and CBC/SHA-1 suites are
    refused (the client's own security level lowered, so the refusal is the server's), with an
    RSA certificate (where static RSA would be possible) and an ECDSA one."""
    server = TLSSwitchboard(ca, key_type=key_type)
    try:
        auth = "RSA" if key_type == "rsa" else "ECDSA"
        weak = [f"ECDHE-{auth}-AES128-SHA", f"ECDHE-{auth}-AES256-SHA"]
        if key_type == "rsa":
            weak += ["AES128-SHA", "AES256-SHA", "AES128-GCM-SHA256", "AES256-GCM-SHA384"]
        for suite in weak:
            ok, out = s_client(server, "-cipher", f"{suite}:@SECLEVEL=0")
            assert not ok, f"{suite} was accepted:\n{out}"
        for suite in [f"ECDHE-{auth}-AES128-GCM-SHA256", f"ECDHE-{auth}-AES256-GCM-SHA384", f"ECDHE-{auth}-CHACHA20-POLY1305"]:
            ok, out = s_client(server, "-cipher", suite)
            assert ok and f"Cipher is {suite}" in out, out
        # TLS 1.3 is unchanged
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost", "-tls1_3"],
                           input=b"", capture_output=True, timeout=30)
        assert r.returncode == 0 and b"TLSv1.3" in r.stdout, r.stdout
    finally:
        server.stop()
