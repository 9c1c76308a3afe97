"""Which addresses the platform may connect to for a caller (links in inputs, alert webhooks):
public ones only, checked after resolving, so a name cannot lead into this machine or its network."""
from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit

# IPv6 ranges that carry an IPv4 address the platform would end up talking to (NAT64, 6to4,
# Teredo, the old IPv4-compatible form); whatever that address is, the link is refused
_TUNNELS = [ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::/96")]


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
