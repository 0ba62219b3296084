"""The address of the client behind a request, for the password-guessing limits.

The peer of the connection is the client, unless it is one of JOBDECK_TRUSTED_PROXIES:
then the X-Forwarded-For header names it. Anyone can send that header, so it is read
only from a trusted proxy, and from the right (the entry the nearest proxy appended)
past every further trusted proxy; whatever lies left of the first untrusted entry was
written by the client and is ignored.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Iterable, Optional, Union

from app.settings import get_settings

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@lru_cache(maxsize=8)
def _networks(setting: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n) for n in setting)  # checked by app.settings


def _address(text: str) -> Optional[str]:
    """A normalised IP address from a header entry or peer ('1.2.3.4', '1.2.3.4:80',
    '[::1]:80', '::1'), or None when it is not one."""
    text = text.strip().strip('"')
    candidates = [text]
    if text.startswith("[") and "]" in text:
        candidates.append(text[1:text.index("]")])
    elif text.count(":") == 1:
        candidates.append(text.split(":")[0])
    for c in candidates:
        try:
            ip = ipaddress.ip_address(c)
        except ValueError:
            continue
        mapped = getattr(ip, "ipv4_mapped", None)
        return str(mapped or ip)
    return None


def _trusted(addr: Optional[str], nets: tuple[Network, ...]) -> bool:
    return addr is not None and any(ipaddress.ip_address(addr) in n for n in nets)


def client_address(peer: Optional[str], forwarded_for: Union[str, Iterable[str], None] = None) -> str:
    """The client's address: `peer` (the connection's other end) unless a trusted proxy
    forwarded the request; `forwarded_for` is the X-Forwarded-For header (or all of
    them, in order). An unreadable peer is returned as given ('' when unknown)."""
    peer_addr = _address(peer or "")
    nets = _networks(get_settings().trusted_proxies)
    if not nets or not _trusted(peer_addr, nets) or not forwarded_for:
        return peer_addr or (peer or "")
    if not isinstance(forwarded_for, str):
        forwarded_for = ",".join(forwarded_for)
    client = peer_addr
    for entry in reversed([e for e in forwarded_for.split(",") if e.strip()]):
        addr = _address(entry)
        if addr is None:
            break  # a broken entry: the last proxy we trust is as far as we can see
        client = addr
        if not _trusted(addr, nets):
            break
    return client or ""
