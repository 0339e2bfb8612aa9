"""Hetzner Cloud, as pulumi-hcloud answers for the resources stackyard creates."""

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
    one_of,
    ssh_fingerprint,
    token_set,
    valid_ssh_key,
)

NAME = "hcloud"
HOSTNAME = r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
# Label keys: optional DNS prefix and a name of 63 characters; values of at most 63 of these.
LABEL_KEY = r"([a-z0-9.-]{1,253}/)?[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?"
LABEL_VALUE = r"([a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?)?"


def labels(values: dict[str, Any]) -> list[Failure]:
    import re

    failures = []
    for key, value in (values.get("labels") or {}).items():
        if not re.fullmatch(LABEL_KEY, key):
            failures.append((f"labels.{key}", "is not a valid label key"))
        if known(value) and not re.fullmatch(LABEL_VALUE, str(value)):
            failures.append((f"labels.{key}", f"{value!r} is not a valid label value"))
    return failures


def token_length(values: dict[str, Any]) -> list[Failure]:
    token = values.get("token")
    if known(token) and len(token) != 64:
        return [("token", "entered token is invalid (must be exactly 64 characters long)")]
    return []


def firewall_rules(values: dict[str, Any]) -> list[Failure]:
    failures = []
    for i, rule in enumerate(values.get("rules") or []):
        path = f"rules[{i}]"
        protocol = rule.get("protocol")
        direction = rule.get("direction")
        if direction not in ("in", "out"):
            failures.append((f"{path}.direction", f"expected in or out; got {direction!r}"))
        if protocol not in ("tcp", "udp", "icmp", "esp", "gre"):
            failures.append((f"{path}.protocol", f"expected tcp, udp, icmp, esp or gre; got {protocol!r}"))
        port = rule.get("port")
        if protocol in ("tcp", "udp") and port is None:
            failures.append((f"{path}.port", f"a {protocol} rule needs a port"))
        if protocol not in ("tcp", "udp") and port is not None:
            failures.append((f"{path}.port", f"a {protocol} rule takes no port"))
        sources = rule.get("sourceIps") if direction == "in" else rule.get("destinationIps")
        if not sources:
            side = "source" if direction == "in" else "destination"
            failures.append((path, f"an '{direction}' rule needs {side} IPs"))
        failures += cidrs(f"{path}.sourceIps", rule.get("sourceIps"))
    return failures


def attachment_targets(values: dict[str, Any]) -> list[Failure]:
    if not values.get("serverIds") and not values.get("labelSelectors"):
        return [("serverIds", "one of serverIds or labelSelectors must be set")]
    return []


def primary_ip_place(values: dict[str, Any]) -> list[Failure]:
    if all(values.get(key) is None for key in ("location", "datacenter", "assigneeId")):
        return [("location", "one of location, datacenter or assigneeId must be set")]
    return []


def cloud() -> Cloud:
    return Cloud(
        name=NAME, title="Hetzner Cloud", package="pulumi_hcloud",
        config_rules=(token_set("token", "HCLOUD_TOKEN", "hcloud:token"), token_length),
        kinds=kinds(
            Kind("hcloud:index/sshKey:SshKey", required=("name",), replace_on=("publicKey",),
                 rules=(valid_ssh_key(), labels),
                 new_id=lambda name, inputs: numeric_id(name),
                 computed=lambda id_, name, inputs: {"fingerprint": ssh_fingerprint(inputs["publicKey"])
                                                     if known(inputs.get("publicKey")) else None}),
            Kind("hcloud:index/firewall:Firewall", required=("name",), rules=(firewall_rules, labels),
                 new_id=lambda name, inputs: numeric_id(name)),
            Kind("hcloud:index/firewallAttachment:FirewallAttachment", replace_on=("firewallId",),
                 rules=(attachment_targets,),
                 new_id=lambda name, inputs: numeric_id(name)),
            Kind("hcloud:index/primaryIp:PrimaryIp", required=("name", "assigneeType", "autoDelete"),
                 replace_on=("type", "location", "datacenter"),
                 rules=(one_of("type", ("ipv4", "ipv6")), one_of("assigneeType", ("server",)), primary_ip_place,
                        labels),
                 new_id=lambda name, inputs: numeric_id(name),
                 computed=lambda id_, name, inputs: {
                     "ipAddress": ipv4_of(name) if inputs.get("type") == "ipv4" else ipv6_of(name),
                     "ipNetwork": None if inputs.get("type") == "ipv4" else f"{ipv6_of(name)[:-1]}/64"}),
            Kind("hcloud:index/server:Server", required=("name",),
                 replace_on=("image", "location", "datacenter", "userData", "sshKeys"),
                 rules=(matches("name", HOSTNAME, "a valid hostname (RFC 1123)"),
                        at_most("name", 63), at_most("userData", 32 * 1024, "bytes"), labels),
                 new_id=lambda name, inputs: numeric_id(name),
                 computed=lambda id_, name, inputs: {
                     "ipv4Address": ipv4_of(name), "ipv6Address": ipv6_of(name),
                     "ipv6Network": f"{ipv6_of(name)[:-1]}/64", "status": "running"}),
        ),
    )
