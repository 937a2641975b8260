"""Where a webhook may be sent: an http(s) URL, and in production never a loopback, private, link-local
(cloud metadata lives there), multicast, reserved or unspecified address, unless an allow-list names its
network. Every address the host resolves to is checked (a name with one public and one private address is
refused). Development and test allow loopback, where the local stack and the tests' receivers listen."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(ValueError):
    """The reason a URL may not be a webhook's target."""


def parsed_host(url: str) -> tuple[str, int]:
    """The URL's host and port; refuses anything but an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("only http and https URLs")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("no credentials in the URL: the signature authenticates the sender")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def networks(allowed: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(n, strict=False) for n in allowed]


def refusal(address: IPAddress, allowed: Sequence[Network], allow_loopback: bool) -> str | None:
    """Why ``address`` may not be a target, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return None
    if address.is_loopback:
        return None if allow_loopback else f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_private:
        return f"{address} is a private address"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return f"{address} is not a public unicast address"
    return None


def check_addresses(addresses: Iterable[IPAddress], allowed: Sequence[Network], allow_loopback: bool) -> None:
    found = list(addresses)
    if not found:
        raise TargetRefused("the host does not resolve")
    for address in found:
        reason = refusal(address, allowed, allow_loopback)
        if reason is not None:
            raise TargetRefused(reason)
