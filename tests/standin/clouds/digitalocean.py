"""DigitalOcean, as pulumi-digitalocean answers for the resources stackyard creates."""

from __future__ import annotations

from typing import Any

from ..values import known
from . import (
    Cloud,
    Failure,
    Kind,
    at_most,
    cidrs,
    ipv4_of,
    ipv6_of,
    kinds,
    matches,
    numeric_id,
    ssh_fingerprint,
    token_set,
    valid_ssh_key,
)

NAME = "digitalocean"
TAG = r"[a-zA-Z0-9:\-_]{1,255}"


def tags(values: dict[str, Any]) -> list[Failure]:
    import re

    return [(f"tags[{i}]", f"{tag!r} may only hold letters, digits, colons, dashes and underscores")
            for i, tag in enumerate(values.get("tags") or []) if known(tag) and not re.fullmatch(TAG, tag)]


def firewall_rules(values: dict[str, Any]) -> list[Failure]:
    failures = []
    rules = [("inboundRules", "source", r) for r in values.get("inboundRules") or []]
    rules += [("outboundRules", "destination", r) for r in values.get("outboundRules") or []]
    if not rules:
        failures.append(("inboundRules", "a firewall needs at least one rule"))
    counters: dict[str, int] = {}
    for group, side, rule in rules:
        i = counters[group] = counters.get(group, -1) + 1
        path = f"{group}[{i}]"
        protocol = rule.get("protocol")
        if protocol not in ("tcp", "udp", "icmp"):
            failures.append((f"{path}.protocol", f"expected tcp, udp or icmp; got {protocol!r}"))
        if protocol in ("tcp", "udp") and not rule.get("portRange"):
            failures.append((f"{path}.portRange", f"`port_range` of a {protocol} rule is required"))
        if protocol == "icmp" and rule.get("portRange"):
            failures.append((f"{path}.portRange", "an icmp rule takes no port range"))
        targets = [key for key in rule if key.startswith(f"{side}") and rule[key]]
        if not targets:
            failures.append((path, f"at least one {side} must be set"))
        failures += cidrs(f"{path}.{side}Addresses", rule.get(f"{side}Addresses"))
    return failures


def droplet_outputs(id_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"ipv4Address": ipv4_of(name), "ipv4AddressPrivate": "10.114.0.2",
            "ipv6Address": ipv6_of(name) if inputs.get("ipv6") else "", "dropletUrn": f"do:droplet:{id_}",
            "status": "active"}


def cloud() -> Cloud:
    return Cloud(
        name=NAME, title="DigitalOcean", package="pulumi_digitalocean",
        config_rules=(token_set("token", "DIGITALOCEAN_TOKEN", "digitalocean:token"),),
        kinds=kinds(
            Kind("digitalocean:index/sshKey:SshKey", required=("name",), replace_on=("publicKey",),
                 rules=(valid_ssh_key(),),
                 new_id=lambda name, inputs: numeric_id(name),
                 computed=lambda id_, name, inputs: {"fingerprint": ssh_fingerprint(inputs["publicKey"])
                                                     if known(inputs.get("publicKey")) else None}),
            Kind("digitalocean:index/droplet:Droplet", required=("name",),
                 replace_on=("image", "region", "userData", "sshKeys"),
                 rules=(matches("name", r"[a-zA-Z0-9.-]+", "a valid Droplet name (letters, digits, dots, dashes)"),
                        at_most("name", 255), at_most("userData", 64 * 1024, "bytes"), tags),
                 new_id=lambda name, inputs: numeric_id(name), computed=droplet_outputs),
            Kind("digitalocean:index/firewall:Firewall", required=("name",), rules=(firewall_rules, tags),
                 computed=lambda id_, name, inputs: {"status": "succeeded"}),
            Kind("digitalocean:index/reservedIp:ReservedIp", replace_on=("region",),
                 new_id=lambda name, inputs: ipv4_of(name),
                 computed=lambda id_, name, inputs: {"ipAddress": id_, "reservedIpUrn": f"do:reservedip:{id_}"}),
        ),
    )
