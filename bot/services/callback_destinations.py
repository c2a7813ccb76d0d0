"""Where a ticket callback may go: never into the service's own network unless allowed.

A token holder chooses the callback URL, and the server makes the request; without a rule
they could make it call loopback services, the private network or the cloud metadata
address (169.254.169.254). The host is resolved and refused when any of its addresses is
loopback, private, link-local, multicast, reserved, unspecified or otherwise not public
(IPv4 inside IPv6 is unwrapped first), unless TRIAGE_CALLBACK_ALLOW names the host or a CIDR
holding the address. It is checked when a ticket arrives (a 422 naming `callback_url`) and
again before every send, since DNS can change: the sender then connects to the very
addresses checked here, so there is no window for DNS to answer differently in between.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]


class RefusedDestination(InvalidInput):
    """The callback URL is malformed, or points where callbacks may not go."""


@dataclass(frozen=True)
class Destination:
    """A checked callback URL: where to connect (the addresses checked) and what to ask for."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent on the request line
    addresses: tuple[str, ...]


def internal_reason(address: Address) -> str | None:
    """Why an address is not a public one callbacks may reach, or None when it is public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return internal_reason(embedded)
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (cloud metadata lives there)"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for found, reason in checks if found), None)


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped `::ffff:a.b.c.d`, 6to4, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def check_destination(
    url: str,
    *,
    allow: Sequence[str],
    resolve: Resolver = socket.getaddrinfo,
    dns_may_wait: bool = False,
) -> Destination:
    """Parse and resolve `url`; refuse it unless every address is public or allowed.

    `dns_may_wait`: a host DNS cannot answer for right now (EAI_AGAIN) passes with no
    address, to be checked when it is sent.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise RefusedDestination("callback_url must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise RefusedDestination("callback_url must not hold a user name or password")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise RefusedDestination("callback_url has an invalid port") from None
    host = parts.hostname.rstrip(".").lower()
    try:
        found = resolve(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        if dns_may_wait and getattr(error, "errno", None) == socket.EAI_AGAIN:
            return Destination(scheme, host, port, _target(parts.path, parts.query), ())
        raise RefusedDestination(f"callback_url: the host {host} could not be resolved") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise RefusedDestination(f"callback_url: the host {host} has no address")
    if host not in allow:
        networks = [ipaddress.ip_network(entry) for entry in allow if _is_network(entry)]
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            reason = internal_reason(address)
            if reason is not None and not any(address in network for network in networks):
                raise RefusedDestination(
                    f"callback_url: {host} resolves to {address}, which is {reason}; "
                    "callbacks only go to public addresses unless TRIAGE_CALLBACK_ALLOW "
                    "names the host or its network"
                )
    return Destination(scheme, host, port, _target(parts.path, parts.query), tuple(addresses))


def _target(path: str, query: str) -> str:
    return (path or "/") + (f"?{query}" if query else "")


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry)
    except ValueError:
        return False
    return True


def refused_destinations(
    urls: Sequence[str | None], *, allow: Sequence[str], resolve: Resolver = socket.getaddrinfo
) -> list[RefusedDestination | None]:
    """For each URL (None: no callback), the refusal that concerns it at intake, or None.

    A host whose DNS answers "try again" is let through here: the ticket is worth keeping,
    and the check before every send refuses it then if it resolves inside.
    """
    refusals: list[RefusedDestination | None] = []
    for url in urls:
        try:
            if url is not None:
                check_destination(url, allow=allow, resolve=resolve, dns_may_wait=True)
        except RefusedDestination as refusal:
            refusals.append(refusal)
        else:
            refusals.append(None)
    return refusals
