"""The address policy: which IP addresses an outbound request may connect to.

Only public unicast addresses pass. Refused: private, loopback, link-local, multicast,
unspecified, reserved and shared (CGNAT) ranges, and the IPv6 forms that carry an IPv4 address
a peer could use to reach one of those: IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96 and
64:ff9b:1::/48), 6to4 (2002::/16) and Teredo (2001::/32). Python's `ipaddress` calls NAT64 and
6to4 addresses global, so they are listed here by hand. Loopback passes only when the caller
says so (the OUTBOUND_ALLOW_LOOPBACK setting, on in development and tests).

Hand-written (a few lines over `ipaddress` and `socket.getaddrinfo`): the libraries that do
this check before a request cannot pin the connection to the address they checked.
"""

import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_BLOCKED_V6 = tuple(
    ipaddress.ip_network(n)
    for n in (
        "64:ff9b::/96",  # NAT64, well-known prefix
        "64:ff9b:1::/48",  # NAT64, local-use prefix
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
        "::ffff:0:0/96",  # IPv4-mapped
        "::/96",  # IPv4-compatible (deprecated)
        "100::/64",  # discard-only
    )
)


class BlockedAddressError(Exception):
    """The host is, or resolves to, an address the policy refuses."""


class UnresolvableHostError(BlockedAddressError):
    """The host name does not resolve (nothing to connect to)."""


def address_allowed(address: str | IPAddress, *, allow_loopback: bool = False) -> bool:
    """True when a connection to this IP address is allowed."""
    try:
        ip = ipaddress.ip_address(str(address).split("%")[0].strip("[]"))
    except ValueError:
        return False
    if ip.is_loopback:
        return allow_loopback
    if ip.version == 6 and any(ip in net for net in _BLOCKED_V6):
        return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHostError(f"could not resolve {host!r}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_allowed(host: str, port: int, *, allow_loopback: bool = False) -> list[str]:
    """Resolve `host` ONCE and return its addresses for the caller to connect to (and only to
    them). Raises BlockedAddressError when any address is refused: a name that answers with a
    private address among public ones is not trusted with any of them."""
    host = host.strip("[]")
    try:
        addresses = [str(ipaddress.ip_address(host.split("%")[0]))]
    except ValueError:
        addresses = _resolve(host, port)
    refused = [a for a in addresses if not address_allowed(a, allow_loopback=allow_loopback)]
    if refused or not addresses:
        raise BlockedAddressError(f"{host!r} resolves to a refused address ({', '.join(refused) or 'none'})")
    return addresses


def host_refused(host: str, *, allow_loopback: bool = False) -> bool:
    """For checking a URL when it is saved: True when `host` is a local name or resolves to a
    refused address now. A name that does not resolve now is not refused here; every
    connection is checked again (`resolve_allowed`)."""
    host = (host or "").strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return not allow_loopback
    try:
        resolve_allowed(host, 0, allow_loopback=allow_loopback)
    except UnresolvableHostError:
        return False
    except BlockedAddressError:
        return True
    return False
