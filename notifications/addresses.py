"""Which IP addresses outbound requests (webhooks) may reach: public ones only, also when an
IPv6 address merely wraps a private IPv4 one. Used when an endpoint is saved (literal
addresses) and on every send (resolved addresses)."""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 forms that carry an IPv4 address: a request to them reaches that IPv4 host (through a
# translator, a tunnel or the host's own stack), so the IPv4 address decides.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052)
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215): internal
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d (RFC 4291)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses `address` carries: IPv4-mapped (::ffff:0:0/96), IPv4-compatible
    (::/96), NAT64 (64:ff9b::/96), 6to4 (2002::/16) and Teredo (2001::/32: its server and its
    de-obfuscated client). Empty for a plain IPv6 address."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in NAT64 or address in IPV4_COMPATIBLE:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    return []


def _non_public(address: IPAddress) -> bool:
    return (
        not address.is_global
        or address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def is_forbidden_target(address: IPAddress) -> bool:
    """Whether a webhook may not be posted to `address`: private, loopback, link-local,
    multicast, reserved or unspecified, or an IPv6 form that embeds such an IPv4 address.

    `ipaddress` calls 6to4 (2002::/16) and NAT64 addresses global whatever they embed, so
    2002:a9fe:a9fe::1 would reach 169.254.169.254 (cloud metadata) unless unwrapped here.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_LOCAL:
            return True
        embedded = embedded_ipv4(address)
        if any(_non_public(v4) for v4 in embedded):
            return True
        if address.ipv4_mapped is not None or address in NAT64:
            # Pure translations of a public IPv4 address: that address was checked above.
            return False
    return _non_public(address)
