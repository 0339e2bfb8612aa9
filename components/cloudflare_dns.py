"""CloudflareDns: a system's DNS records, with A/AAAA records bound to its hosts' addresses."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from .adoption import adopted
from .model import Dns, DnsRecord, fqdn

AUTOMATIC_TTL = 1
REPEATING = ("TXT", "MX")
"""Record types a name may hold several of."""


def record(
    resource_name: str,
    *,
    zone_id: str,
    name: str,
    type: str,
    content: pulumi.Input[str | None],
    proxied: bool = False,
    ttl: int | None = None,
    priority: int | None = None,
    comment: str | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> cloudflare.DnsRecord:
    """One record. ``name`` is the full hostname: Cloudflare stores it so, and a short form diffs forever.

    Proxied records always get ttl 1 (automatic), the only TTL Cloudflare allows for them.
    """
    return cloudflare.DnsRecord(
        resource_name,
        zone_id=zone_id,
        name=name,
        type=type,
        content=content,
        proxied=proxied,
        ttl=AUTOMATIC_TTL if proxied or ttl is None else ttl,
        priority=priority,
        comment=comment or "managed by stackyard",
        opts=opts,
    )


@dataclass(frozen=True)
class CloudflareDnsArgs:
    system: str
    """Name of the system the records belong to."""
    dns: Dns
    """The system's zones and records."""
    host_addresses: Mapping[str, Mapping[str, pulumi.Input[str | None]]]
    """Host name -> {"A": IPv4 output, "AAAA": IPv6 output (None for a host without one: the rules refuse an
    AAAA record naming it)}, for records that name a host."""
    protect: bool = True
    """Protect the records: removing one from the stack fails until it is unprotected (live DNS)."""


class CloudflareDns(pulumi.ComponentResource):
    """Every record in a system's dns.records."""

    records: dict[str, cloudflare.DnsRecord]
    """Full hostname -> its (first) record, for values that reference a record."""

    def __init__(self, name: str, args: CloudflareDnsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stackyard:index:CloudflareDns", name, {}, opts)
        self.records = {}
        for spec in args.dns.records:
            host = fqdn(spec)
            assert host is not None  # None only for a record without zone or name, which the model refuses
            base = f"{host}-{spec.type}".lower()
            # One A, AAAA or CNAME per name (the model sees to it): named by name and type. TXT and MX
            # repeat, so they are named by what they hold, never by position or by how many there are:
            # adding, removing or reordering records never renames (recreates) another.
            repeating = spec.type in REPEATING
            resource_name = f"{base}-{_digest(spec)}" if repeating else base
            # Before, a lone TXT/MX record was named by name and type only: that state follows it here.
            aliases = [pulumi.Alias(name=base)] if repeating else []
            content = args.host_addresses[spec.host][spec.type] if spec.host else spec.content
            created = record(
                resource_name,
                zone_id=args.dns.zones[spec.zone].zone_id,
                name=host,
                type=spec.type,
                content=content,
                proxied=spec.proxied,
                ttl=spec.ttl,
                priority=spec.priority,
                comment=spec.comment,
                opts=adopted(pulumi.ResourceOptions(parent=self, protect=args.protect, aliases=aliases),
                             spec.adopt and f"{args.dns.zones[spec.zone].zone_id}/{spec.adopt}"),
            )
            self.records.setdefault(host, created)
        self.register_outputs({"hostnames": sorted(self.records)})


def _digest(spec: DnsRecord) -> str:
    return hashlib.sha256(f"{spec.content}|{spec.host}|{spec.priority}".encode()).hexdigest()[:8]
