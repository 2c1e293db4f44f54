"""Starts the built `relay-conformance` binary (in --interop mode) on a free port for the tests.

The binary is looked up in $SWITCHBOARD_BIN_DIR (the output of `swift build --show-bin-path`);
without it, that command is run from the repository root.
"""
import os
import pathlib
import socket
import subprocess
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def bin_dir() -> pathlib.Path:
    env = os.environ.get("SWITCHBOARD_BIN_DIR")
    if env:
        return pathlib.Path(env)
    out = subprocess.run(
        ["swift", "build", "--show-bin-path"], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    )
    return pathlib.Path(out.stdout.strip())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RelayServer:
    def __init__(self, *args: str):
        binary = bin_dir() / "relay-conformance"
        if not binary.exists():
            raise RuntimeError(f"{binary} not found: build it with `swift build --product relay-conformance`")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(binary), "--port", str(self.port), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"relay-conformance exited: {self.process.stderr.read().decode(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("relay-conformance did not start accepting connections")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
