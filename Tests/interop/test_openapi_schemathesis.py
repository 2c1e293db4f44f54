"""docs/openapi.yaml and the server agree: schemathesis (property-based testing from the
spec) runs every check over every operation against a real server, positive and negative
data, and must find nothing.

What it catches: a status code the spec does not list (400 `invalid_json`, 422, 404), a
request the spec calls invalid that the server accepts (an out-of-range `limit` clamped,
an over-long `q`, `null` where the spec says string), a request the spec calls valid that
the server refuses (a constraint the server enforces and the spec does not state), a
response body that does not match its schema, 5xx, a wrong answer to a method a path
does not have, an authenticated operation that ignores its credentials.

Deterministic: derandomised generation (schemathesis's deterministic mode: no random seed,
no example database carried between runs) and a bounded number of cases per operation
(fewer where each accepted request costs a password hash, see schemathesis.toml); about
two minutes on two cores. The server is started for this module alone, since the run
creates and deletes rooms, sessions and accounts.
"""
import os
import pathlib
import re
import subprocess
import sys

import pytest

from switchboard_fixture import Switchboard

HERE = pathlib.Path(__file__).resolve().parent
MAX_EXAMPLES = 10
# Checks left out until the server does what they test, each with the issue that does it.
# Empty this when issue 11 item 14 lands (a method a known path does not have answers 405
# with `Allow` in the JSON error shape; today it is an empty 404).
PENDING_CHECKS: list[str] = []


@pytest.fixture(scope="module")
def spec_server():
    server = Switchboard(REQUIRE_VERIFIED_EMAIL="true")
    yield server
    server.stop()


def schemathesis_command(url: str, *extra: str) -> list[str]:
    return [
        str(pathlib.Path(sys.executable).parent / "schemathesis"),
        "--config-file", str(HERE / "schemathesis.toml"),
        "--no-color",
        "run", f"{url}/api/openapi.yaml",
        "--checks", "all",
        *(["--exclude-checks", ",".join(PENDING_CHECKS)] if PENDING_CHECKS else []),
        "--mode", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers", "1",
        "--request-timeout", "60",
        *extra,
    ]


def run_schemathesis(server: Switchboard, *extra: str) -> subprocess.CompletedProcess:
    user = server.new_user("spec")
    env = dict(os.environ)
    env.update({
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
        "SB_SCHEMATHESIS_URL": server.url,
        "SB_SCHEMATHESIS_LOGIN": user["user"]["username"],
        "SB_SCHEMATHESIS_PASSWORD": "correct horse battery",
    })
    return subprocess.run(
        schemathesis_command(server.url, *extra), cwd=server.data_dir, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900,
    )


def test_server_follows_openapi_spec(spec_server):
    result = run_schemathesis(spec_server)
    summary = result.stdout[-20000:]
    assert result.returncode == 0, f"schemathesis found disagreements between docs/openapi.yaml and the server:\n{summary}"
    # Every operation of the spec was exercised (none filtered out or skipped as untestable).
    selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert selected and tested, summary
    assert selected[1] == selected[2] == tested[1] and int(tested[1]) >= 25, summary


# The kinds schemathesis found, pinned as plain requests so a failure names its rule.

def test_every_limit_out_of_range_is_refused_not_clamped(spec_server):
    token = spec_server.new_user("limits")["accessToken"]
    room = spec_server.api("POST", "/rooms", token=token, json={"name": "limits room"}).json()
    pages = {"/rooms/public": 50, f"/rooms/{room['id']}/messages": 100}
    for path, maximum in pages.items():
        for limit in ("0", "-1", str(maximum + 1), "9223372036854775808", "ten", ""):
            r = spec_server.api("GET", f"{path}?limit={limit}", token=token)
            assert r.status_code == 422, (path, limit, r.status_code, r.text)
            assert r.json()["error"]["fields"]["limit"] == f"must be 1 to {maximum}", (path, limit, r.text)
        assert spec_server.api("GET", f"{path}?limit={maximum}", token=token).status_code == 200
    r = spec_server.api("GET", "/rooms/public?q=" + "x" * 65, token=token)
    assert r.status_code == 422 and "q" in r.json()["error"]["fields"], r.text
    r = spec_server.api("GET", f"/rooms/{room['id']}/messages?before=5&after=1", token=token)
    assert r.status_code == 422 and "before" in r.json()["error"]["fields"], r.text


def test_names_refuse_exactly_control_and_format_characters(spec_server):
    """Unicode general categories Cc and Cf, as the spec's pattern says; not Foundation's
    `controlCharacters` on Linux, which also holds unassigned code points of plane 14."""
    token = spec_server.new_user("names")["accessToken"]
    for refused in ("\u0007", "\u0085", "\u00ad", "\u200d", "\ufeff", "\U000e0001"):
        r = spec_server.api("PATCH", "/me", token=token, json={"displayName": f"a{refused}b"})
        assert r.status_code == 422, (hex(ord(refused)), r.text)
        r = spec_server.api("POST", "/rooms", token=token, json={"name": f"room {refused} x"})
        assert r.status_code == 422, (hex(ord(refused)), r.text)
    for accepted in ("\U000eb958", "\U000e0101", "\u0378", "\ue000"):
        r = spec_server.api("PATCH", "/me", token=token, json={"displayName": f"a{accepted}b"})
        assert r.status_code == 200 and r.json()["displayName"] == f"a{accepted}b", (hex(ord(accepted)), r.text)
        r = spec_server.api("POST", "/rooms", token=token, json={"name": f"room {accepted} x"})
        assert r.status_code == 201, (hex(ord(accepted)), r.text)


def test_optional_fields_take_null_as_absent(spec_server):
    token = spec_server.new_user("nulls")["accessToken"]
    r = spec_server.api("POST", "/rooms", token=token, json={"name": "nulls room", "kind": None, "topic": None, "password": None})
    assert r.status_code == 201 and r.json()["kind"] == "public", r.text
    room = r.json()["id"]
    r = spec_server.api("POST", f"/rooms/{room}/messages", token=token, json={"body": "hi", "clientMsgId": None, "replyTo": None})
    assert r.status_code == 201, r.text
    r = spec_server.api("POST", "/direct", token=token, json={"userId": None, "username": None})
    assert r.status_code == 422, r.text
