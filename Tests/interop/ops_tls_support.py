"""A throwaway certificate authority made with the system's openssl, and a Switchboard started
with TLS_CERT_FILE / TLS_KEY_FILE, for the TLS tests (Python and Chromium)."""
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import time

import requests

from switchboard_fixture import Switchboard


def openssl(*args: str, cwd: pathlib.Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class ThrowawayCA:
    """A root CA (its key and certificate in `directory`) that signs server certificates for
    localhost and 127.0.0.1."""

    def __init__(self, directory: pathlib.Path):
        self.dir = directory
        self.cert = directory / "ca.pem"
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Switchboard Test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                cwd=directory)
        self.serial = 1

    def issue(self, name: str, days: int = 1, start: str | None = None, key_type: str = "ec") -> tuple[pathlib.Path, pathlib.Path]:
        """A server certificate and key (`name`.pem, `name`.key) for localhost/127.0.0.1,
        valid `days` from now, or from `start` (YYMMDDHHMMSSZ) when given; an ECDSA P-256 key,
        or RSA 2048 with `key_type="rsa"`."""
        self.serial += 1
        (self.dir / "ext.cnf").write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        key_args = ["-newkey", "rsa:2048"] if key_type == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        openssl("req", *key_args, "-nodes", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", "-subj", f"/CN=localhost {name}", cwd=self.dir)
        if start is None:
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", str(self.serial),
                    "-days", str(days), "-extfile", "ext.cnf", "-out", f"{name}.pem", cwd=self.dir)
        else:
            # `openssl ca` can set both dates (x509 -req cannot before OpenSSL 3.4)
            (self.dir / "index.txt").write_text("")
            (self.dir / "ca.cnf").write_text(
                "[ca]\ndefault_ca=test\n[test]\ndatabase=index.txt\nserial=serial\nnew_certs_dir=.\ncertificate=ca.pem\nprivate_key=ca.key\n"
                "default_md=sha256\npolicy=any\nunique_subject=no\n[any]\ncommonName=supplied\n")
            (self.dir / "serial").write_text(f"{self.serial:04X}\n")
            openssl("ca", "-batch", "-config", "ca.cnf", "-in", f"{name}.csr", "-out", f"{name}.pem", "-notext",
                    "-startdate", start, "-enddate", end_after(start, days), "-extfile", "ext.cnf", "-keyfile", "ca.key",
                    "-cert", "ca.pem", "-outdir", ".", cwd=self.dir)
        return self.dir / f"{name}.pem", self.dir / f"{name}.key"


def end_after(start: str, days: int) -> str:
    t = time.strptime(start, "%y%m%d%H%M%SZ")
    return time.strftime("%y%m%d%H%M%SZ", time.gmtime(time.mktime(t) - time.timezone + days * 86400))


def served_certificate(port: int, ca: pathlib.Path) -> bytes:
    """The DER of the leaf certificate a new TLS connection to 127.0.0.1:`port` gets (chain verified)."""
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def pem_to_der(path: pathlib.Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


class TLSSwitchboard(Switchboard):
    """The built server serving HTTPS/WSS with the live files `live.pem` / `live.key` in the CA's
    directory (replace them, then `reload()`)."""

    def __init__(self, ca: ThrowawayCA, key_type: str = "ec", **env: str):
        self.ca = ca
        cert, key = ca.issue("first", key_type=key_type)
        self.cert_file, self.key_file = ca.dir / "live.pem", ca.dir / "live.key"
        self.install(cert, key)
        # The base class starts the process and waits on http://…/health: point it at https.
        os.environ.setdefault("REQUESTS_CA_BUNDLE", str(ca.cert))
        self._tls_env = {"TLS_CERT_FILE": str(self.cert_file), "TLS_KEY_FILE": str(self.key_file), **env}
        super().__init__(**self._tls_env)

    def install(self, cert: pathlib.Path, key: pathlib.Path) -> None:
        self.cert_file.write_bytes(cert.read_bytes())
        self.key_file.write_bytes(key.read_bytes())

    def _wait_ready(self, timeout: float = 30.0) -> None:
        self.url = f"https://localhost:{self.port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"switchboard exited: {self.log_path.read_text(errors='replace')}")
            try:
                if requests.get(self.url + "/health", timeout=1, verify=str(self.ca.cert)).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("switchboard did not become healthy over TLS")

    def reload(self) -> None:
        """SIGHUP, then wait until the log says the reload was tried."""
        before = self.log_path.read_text(errors="replace").count("TLS certificate reload")
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.log_path.read_text(errors="replace").count("TLS certificate reload") > before:
                return
            time.sleep(0.05)
        raise AssertionError("no reload logged: " + self.log_path.read_text(errors="replace"))
