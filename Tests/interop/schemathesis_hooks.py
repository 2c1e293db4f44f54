"""Schemathesis hooks for test_openapi_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

The run needs a live access token, but the fuzzer itself ends sessions (logout, logout-all,
DELETE /api/sessions/{id} with an id the stateful phase takes from GET /api/sessions), and
access tokens of ended sessions are refused at once. So the token comes from this provider,
which logs in again whenever schemathesis sees a 401 on an authenticated request (its
`retry_on` re-authentication). The fuzzer's own failed logins from 127.0.0.1 trip the
per-IP login throttle, so this provider logs in from another loopback address, 127.0.0.2,
which the server sees as a different client.
"""
import http.client
import json
import os
import urllib.parse

import schemathesis


def _login() -> str:
    url = urllib.parse.urlsplit(os.environ["SB_SCHEMATHESIS_URL"])
    body = json.dumps({
        "login": os.environ["SB_SCHEMATHESIS_LOGIN"],
        "password": os.environ["SB_SCHEMATHESIS_PASSWORD"],
        "refreshTokenInBody": True,
    })
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60, source_address=("127.0.0.2", 0))
    try:
        connection.request("POST", "/api/auth/login", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"login for the schemathesis run failed: {response.status} {payload[:200]!r}")
    return json.loads(payload)["accessToken"]


@schemathesis.auth(retry_on=[401])
class SwitchboardBearer:
    def get(self, case, ctx):
        return _login()

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
