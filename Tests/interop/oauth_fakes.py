"""Small fakes of sign-in providers for test_ops_oauth.py, written for these tests:

- `FakeGitHub`: GitHub's three endpoints (authorize, access_token, and the REST API's
  `/user` and `/user/emails`), checking the client's credentials, single-use codes and PKCE
  (S256) as GitHub does; a bad code is answered 200 with `{"error": "bad_verification_code"}`.
- `FakeIssuer`: an OpenID Connect issuer (discovery, JWKS, authorize, token) whose ID tokens
  can be spoiled on purpose (signed with a key the JWKS lacks, another `aud`, expired), the
  cases the real `oidc-provider-mock` cannot produce. RS256 via `cryptography`.

Both approve every authorization request at once (a consent screen is not what they test)
unless `deny` is set, and can answer the token request 500 or not at all (`token_mode`).
"""
import base64
import hashlib
import http.server
import json
import secrets
import threading
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from relay_fixture import free_port


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode()).digest())


class _Server:
    """A threaded HTTP server on 127.0.0.1 whose requests go to `self.handle`."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.codes: dict[str, dict] = {}
        self.deny = False
        self.token_mode = "ok"  # "ok", "500", "hang"
        self.client_id = "test-client"
        self.client_secret = "test-secret"
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner._dispatch(self, "GET")

            def do_POST(self):
                owner._dispatch(self, "POST")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _dispatch(self, handler, method):
        parsed = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        body = b""
        if method == "POST":
            body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        self.requests.append(f"{method} {parsed.path}")
        status, headers, payload = self.handle(method, parsed.path, query, body, handler.headers)
        if status is None:
            return  # hang: the handler thread leaves the connection open until stop
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _authorize(self, query, extra: dict):
        redirect = query["redirect_uri"]
        sep = "&" if "?" in redirect else "?"
        if self.deny:
            return 302, {"Location": f"{redirect}{sep}error=access_denied&state={urllib.parse.quote(query.get('state', ''))}"}, b""
        assert query.get("code_challenge_method") == "S256", query
        code = secrets.token_hex(10)
        self.codes[code] = {"challenge": query["code_challenge"], "redirect_uri": redirect, "client_id": query["client_id"], **extra}
        return 302, {"Location": f"{redirect}{sep}code={code}&state={urllib.parse.quote(query['state'])}"}, b""

    def _token_gate(self):
        if self.token_mode == "500":
            return 500, {"Content-Type": "text/plain"}, b"upstream trouble"
        if self.token_mode == "hang":
            time.sleep(30)
            return None, None, None
        return None

    def _redeem(self, form: dict, client_id: str):
        """The code's record, or None when it is unknown, used, or fails PKCE (RFC 7636 §4.6)."""
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant["client_id"] != client_id or grant["redirect_uri"] != form.get("redirect_uri"):
            return None
        if s256(form.get("code_verifier", "")) != grant["challenge"]:
            return None
        return grant


class FakeGitHub(_Server):
    def __init__(self):
        super().__init__()
        self.user = {"id": 4242, "login": "octo", "name": "Octo Cat"}
        self.emails = [{"email": "octo@example.com", "primary": True, "verified": True}]
        self.tokens: dict[str, dict] = {}

    def handle(self, method, path, query, body, headers):
        if method == "GET" and path == "/login/oauth/authorize":
            return self._authorize(query, {"user": dict(self.user), "emails": list(self.emails)})
        if method == "POST" and path == "/login/oauth/access_token":
            gate = self._token_gate()
            if gate:
                return gate
            form = dict(urllib.parse.parse_qsl(body.decode()))
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                return 200, {"Content-Type": "application/json"}, {"error": "incorrect_client_credentials"}
            grant = self._redeem(form, form.get("client_id"))
            if grant is None:
                return 200, {"Content-Type": "application/json"}, {"error": "bad_verification_code"}
            token = "gho_" + secrets.token_hex(16)
            self.tokens[token] = grant
            return 200, {"Content-Type": "application/json"}, {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}
        grant = self.tokens.get((headers.get("Authorization") or "").removeprefix("Bearer "))
        if grant is None:
            return 401, {"Content-Type": "application/json"}, {"message": "Bad credentials"}
        if method == "GET" and path == "/user":
            return 200, {"Content-Type": "application/json"}, grant["user"]
        if method == "GET" and path == "/user/emails":
            return 200, {"Content-Type": "application/json"}, grant["emails"]
        return 404, {"Content-Type": "application/json"}, {"message": "Not Found"}


class FakeIssuer(_Server):
    def __init__(self):
        super().__init__()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "k1"
        self.claims = {"email": "fake@example.com", "email_verified": True}
        # Spoilers for the next ID tokens.
        self.sign_with_other_key = False
        self.aud = None
        self.exp_offset = 300

    def _jwk(self):
        numbers = self.key.public_key().public_numbers()
        def as_b64(n: int) -> str:
            return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))
        return {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256", "n": as_b64(numbers.n), "e": as_b64(numbers.e)}

    def _sign(self, claims: dict) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        key = self.other_key if self.sign_with_other_key else self.key
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)

    def handle(self, method, path, query, body, headers):
        json_headers = {"Content-Type": "application/json"}
        if path == "/.well-known/openid-configuration":
            return 200, json_headers, {
                "issuer": self.url, "authorization_endpoint": self.url + "/authorize", "token_endpoint": self.url + "/token",
                "jwks_uri": self.url + "/jwks", "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        if path == "/jwks":
            return 200, json_headers, {"keys": [self._jwk()]}
        if path == "/authorize":
            return self._authorize(query, {"nonce": query.get("nonce"), "sub": query.get("login_hint", "fake-subject")})
        if method == "POST" and path == "/token":
            gate = self._token_gate()
            if gate:
                return gate
            form = dict(urllib.parse.parse_qsl(body.decode()))
            basic = base64.b64decode((headers.get("Authorization") or "Basic ").removeprefix("Basic ")).decode()
            client_id, _, secret = basic.partition(":")
            client_id, secret = urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)
            if client_id != self.client_id or secret != self.client_secret:
                return 401, json_headers, {"error": "invalid_client"}
            grant = self._redeem(form, client_id)
            if grant is None:
                return 400, json_headers, {"error": "invalid_grant"}
            now = int(time.time())
            claims = {
                "iss": self.url, "sub": grant["sub"], "aud": self.aud or self.client_id, "iat": now,
                "exp": now + self.exp_offset, "nonce": grant["nonce"], **self.claims,
            }
            return 200, json_headers, {"access_token": secrets.token_hex(16), "token_type": "Bearer", "id_token": self._sign(claims)}
        return 404, json_headers, {"error": "not_found"}
