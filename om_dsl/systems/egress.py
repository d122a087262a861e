"""Where the engine may send a subscriber's events: the guard against SSRF.

A `/hub` subscription names a URL that the engine will POST to from inside
the deployment's network, so a caller who may subscribe could otherwise make
the engine reach what only the deployment can reach: a cloud's metadata
service (169.254.169.254), the engine's own ports, an internal admin page.

Two rules:
- never, whatever the configuration: link-local addresses (cloud metadata
  services live there), unspecified, multicast and reserved ones;
- when the deployment lists `[api] hub_callbacks` (host names and networks,
  such as `"cpq.example.com"` or `"10.20.0.0/16"`), only those.

The host is resolved and every address it resolves to is checked, at
subscription and again at each delivery (a name can be re-pointed after it
was checked: DNS rebinding). Listeners an operator registers with `om hub add`
are checked by the first rule only.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Callable, Iterable, Optional
from urllib.parse import urlsplit

import attrs

Resolver = Callable[[str, int], list]


def resolve(host: str, port: int) -> list:
    """The addresses `host` resolves to (the system resolver)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def never(address: ipaddress._BaseAddress) -> Optional[str]:
    """Why no event is ever sent to `address`, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "an unspecified, multicast or reserved address"
    return None


@attrs.frozen
class CallbackPolicy:
    """`[api] hub_callbacks`: empty allows every host the first rule allows."""

    hosts: tuple = ()  # lower-case host names
    networks: tuple = ()  # ipaddress networks

    @classmethod
    def of(cls, entries: Iterable[str]) -> "CallbackPolicy":
        """Host names and networks; ValueError names an entry that is neither."""
        hosts, networks = [], []
        for entry in entries:
            text = entry.strip().lower()
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            if not text or "/" in text or ":" in text or " " in text:
                raise ValueError(f"{entry!r} is neither a host name nor a network (such as 10.0.0.0/8)")
            hosts.append(text)
        return cls(tuple(hosts), tuple(networks))

    def refusal(self, url: str, resolver: Resolver = resolve) -> Optional[str]:
        """Why events may not go to `url`, or None. Resolves its host (blocking)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            return "it is not an http(s) URL"
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            return str(exc)
        listed = host in self.hosts
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]
        except (OSError, UnicodeError) as exc:
            return f"its host {host} does not resolve ({exc.__class__.__name__})"
        except ValueError:
            return f"its host {host} resolves to something that is not an address"
        if not addresses:
            return f"its host {host} does not resolve"
        for address in addresses:
            why = never(address)
            if why:
                return f"its host {host} is {address}, {why}"
            if (self.hosts or self.networks) and not listed and not any(address in net for net in self.networks):
                return f"its host {host} ({address}) is not in [api] hub_callbacks"
        return None


ANY = CallbackPolicy()
