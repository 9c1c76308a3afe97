"""Which addresses the platform may connect to for a caller (links in inputs, alert webhooks):
public ones only, checked after resolving, so a name cannot lead into this machine or its network."""
from __future__ import annotations

import asyncio
import ipaddress
from typing import Any
from urllib.parse import urlsplit

# IPv6 ranges that carry an IPv4 address the platform would end up talking to (NAT64, 6to4,
# Teredo, the old IPv4-compatible form); whatever that address is, the link is refused
_TUNNELS = [ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::/96",
                                               "::ffff:0:0:0/96")]  # the last: IPv4-translated (SIIT)
# not global whatever the Python version says: site-local (deprecated, still routed inside some
# networks) and the segment-routing block
_NOT_PUBLIC = [ipaddress.ip_network(n) for n in ("fec0::/10", "5f00::/16")]


class NotPublic(ValueError):
    """The name resolves to an address that is not public."""


def is_public_address(text: str) -> bool:
    """A global unicast address, not one that tunnels to an IPv4 address behind it."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif any(address in net for net in _TUNNELS):
            return False
    if any(address in net for net in _NOT_PUBLIC):
        return False
    return address.is_global and not address.is_multicast


async def public_address_of(url: str) -> str:
    """The address to connect to for ``url``: every address its host resolves to must be public
    (connect to the one returned, not to the name, which could resolve differently next time).
    ValueError says why not."""
    host = urlsplit(url).hostname
    if not host:
        raise ValueError(f"{url} has no host")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as exc:
        raise ValueError(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        if not is_public_address(info[4][0]):
            raise NotPublic(f"{host} is not a public address")
    if not infos:
        raise ValueError(f"cannot resolve {host}")
    return str(infos[0][4][0])


def is_loopback_host(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def pinned(url: str, *, private_too: bool = False) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """Where to send a request for ``url`` the platform makes for a caller: the URL with its
    host replaced by the public address just checked (connecting to the name could reach
    whatever it resolves to a moment later), the Host header, and the TLS name. ``private_too``
    connects to the name as it is. ValueError (NotPublic) says why not."""
    import httpx

    target = httpx.URL(url)
    if private_too:
        return target, {}, {}
    address = await public_address_of(url)
    return (target.copy_with(host=address), {"host": target.netloc.decode("ascii")},
            {"sni_hostname": target.host})
