"""POST one ticket callback to the address that was checked, and never follow a redirect.

`bot.services.callback_destinations` resolved the host and checked every address; the
connection goes to one of those addresses, with the URL's host name in the Host header and
in TLS (SNI and certificate check), so DNS answering differently a moment later (rebinding)
cannot send the request anywhere else. http.client follows no redirect and reads no proxy
settings from the environment, which is why it is used rather than urllib.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from bot.services.callback_destinations import Destination

MAX_ANSWER_BYTES = 64 * 1024  # a receiver's answer is read this far, then dropped


@dataclass(frozen=True)
class CallbackAnswer:
    """What the receiver answered: its status and headers (the body is not kept)."""

    status: int
    headers: dict[str, str]


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to a fixed address; Host still names the URL's host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed address; SNI and the certificate check use the URL's host."""

    def __init__(
        self, host: str, port: int, *, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address, self._tls = address, context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def _connection(
    destination: Destination, address: str, timeout: float
) -> http.client.HTTPConnection:
    if destination.scheme == "https":
        context = ssl.create_default_context()
        return _PinnedHTTPS(
            destination.host, destination.port, address=address, timeout=timeout, context=context
        )
    return _PinnedHTTP(destination.host, destination.port, address=address, timeout=timeout)


def post_callback(
    destination: Destination, body: bytes, headers: Mapping[str, str], *, timeout: float = 5.0
) -> CallbackAnswer:
    """POST `body` to the first checked address that accepts a connection.

    Only a refused connection moves on to the next address: once the request may have
    reached a receiver it is not sent again here (the outbox retries it, with the same event
    id). Raises OSError when no address could be reached or the exchange broke.
    """
    failure: OSError = ConnectionError(f"{destination.host} has no address to connect to")
    for address in destination.addresses:
        connection = _connection(destination, address, timeout)
        try:
            try:
                connection.connect()
            except OSError as error:
                failure = error
                continue
            connection.request("POST", destination.target, body=body, headers=dict(headers))
            response = connection.getresponse()
            response.read(MAX_ANSWER_BYTES)
            return CallbackAnswer(response.status, dict(response.getheaders()))
        finally:
            connection.close()
    raise failure
