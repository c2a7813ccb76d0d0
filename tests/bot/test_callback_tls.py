"""HTTPS callbacks: pinned to the checked address, yet verified against the URL's host name.

A local HTTPS receiver on 127.0.0.1 holds a certificate made here with the openssl command
for `hooks.example.test` only. The sender connects to 127.0.0.1 (the address the SSRF check
passed) while sending that host name in SNI and checking the certificate against it; the
test trusts the certificate through SSL_CERT_FILE, which Python's default context reads.
"""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.callback_post import post_callback
from bot.services.callback_destinations import Destination

HOST = "hooks.example.test"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate and key for `name` (its own CA)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "1", "-subj", f"/CN={name}",
            "-addext", f"subjectAltName=DNS:{name}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class Receiver(http.server.BaseHTTPRequestHandler):
    """Answers 204 and keeps what it was sent."""

    seen: list[tuple[str | None, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
        length = int(self.headers.get("Content-Length", "0"))
        Receiver.seen.append((self.headers.get("Host"), self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        """Quiet: the test reads what was received instead."""


@pytest.fixture
def https_receiver(tmp_path: Path) -> Iterator[int]:
    """An HTTPS server on 127.0.0.1 with a certificate for HOST; yields its port."""
    cert, key = certificate(tmp_path, HOST)
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.seen = []
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def destination(port: int, host: str = HOST) -> Destination:
    return Destination("https", host, port, "/hooks/triage", ("127.0.0.1",))


def test_a_trusted_certificate_for_the_url_host_is_accepted(
    https_receiver: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / f"{HOST}.pem"))
    answer = post_callback(destination(https_receiver), b'{"id": 1}', {"X-Test": "1"})
    assert answer.status == 204
    assert Receiver.seen == [(f"{HOST}:{https_receiver}", b'{"id": 1}')]


def test_an_untrusted_certificate_is_refused(https_receiver: int) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        post_callback(destination(https_receiver), b"{}", {})
    assert Receiver.seen == []


def test_a_certificate_for_another_host_is_refused(
    https_receiver: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / f"{HOST}.pem"))
    with pytest.raises(ssl.SSLCertVerificationError):
        post_callback(destination(https_receiver, host="other.example.test"), b"{}", {})
    assert Receiver.seen == []
