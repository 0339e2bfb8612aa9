"""Names and addresses as the rules compare them: a record's full name, an address in one spelling,
a domain inside a zone, whether a host has IPv6."""

from __future__ import annotations

import ipaddress

from ..topology import DnsRecord, ExistingHost


def fqdn(record: DnsRecord) -> str | None:
    if record.zone is None or record.name is None:
        return None
    return record.zone if record.name == "@" else f"{record.name}.{record.zone}"


def ip_text(address: str) -> str | None:
    """An IP address in one spelling (2001:DB8::1 and 2001:db8:0::1 are one address), or None."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def in_zone(domain: str, zone: str) -> bool:
    return domain == zone or domain.endswith("." + zone)


def has_ipv6(host: object) -> bool:
    if isinstance(host, ExistingHost):
        return host.ipv6 is not None
    return bool(getattr(host, "ipv6", False))
