"""The web app's own Socket.IO client (frontend/js/socketio.js) recovers its connection state.

Runs Tests/interop/js/web_client_recovery.mjs in Node (its experimental WebSocket) against
`relay-conformance --interop --recovery`: the client remembers the pid and the last offset, a
dropped transport reconnects by itself with both, and gets the same socket id, `recovered`, and
the missed events in order before live ones; after `disconnect()` a connect is a new session.
"""
import json
import pathlib
import shutil
import subprocess

import pytest

from relay_fixture import RelayServer

HARNESS = pathlib.Path(__file__).resolve().parent / "js" / "web_client_recovery.mjs"


@pytest.fixture(scope="module")
def server():
    srv = RelayServer("--interop", "--recovery")
    yield srv
    srv.stop()


def test_web_client_recovers_missed_events_in_order(server):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("Node.js is not installed")
    run = subprocess.run(
        [node, "--experimental-websocket", "--experimental-default-type=module", str(HARNESS), server.url],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert "error" not in report, report
    steps = report["steps"]
    assert steps[0] == {"connect": {"recovered": False}, "pid": "string", "recovered": False}
    assert steps[1] == {"join": [True]}
    payload, offset = steps[2]["first"]
    assert payload == {"n": 1} and offset.isdigit() and steps[2]["lastOffset"] == offset
    assert steps[3] == {"disconnect": "transport close"}
    assert steps[4] == {"reconnect": {"recovered": True}, "sameId": True, "samePid": True, "recovered": True}
    base = int(offset)
    # handlers get the arguments unchanged: the payload, then the offset
    assert steps[5] == {"replayed": [[{"n": 2}, str(base + 1)], [{"n": 3}, str(base + 2)]]}
    assert steps[6] == {"live": [{"n": 4}, str(base + 3)], "lastOffset": str(base + 3)}
    assert steps[7] == {"serverSaysRecovered": [True]}
    assert steps[8] == {"fresh": {"recovered": False}, "sameId": False, "samePid": False, "recovered": False}
    assert steps[9] == {"serverSaysRecovered": [False]}
