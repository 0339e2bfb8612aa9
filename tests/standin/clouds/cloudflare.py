"""Cloudflare (provider v6), as pulumi-cloudflare answers for DNS records and Pages."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..values import known
from . import Cloud, Failure, Kind, at_most, kinds, matches, one_of

NAME = "cloudflare"
ZONE_ID = r"[0-9a-f]{32}"
HOST = r"(\*\.)?([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.?"


def dns_record(values: dict[str, Any]) -> list[Failure]:
    failures = []
    kind, ttl, proxied, content = values.get("type"), values.get("ttl"), values.get("proxied"), values.get("content")
    if proxied and known(ttl) and ttl != 1:
        failures.append(("ttl", "a proxied record must have ttl 1 (automatic); Cloudflare refuses any other"))
    if known(ttl) and ttl != 1 and not 30 <= ttl <= 86400:
        failures.append(("ttl", f"ttl must be 1 (automatic) or between 30 and 86400 seconds; got {ttl}"))
    if proxied and known(kind) and kind not in ("A", "AAAA", "CNAME"):
        failures.append(("proxied", f"{kind} records cannot be proxied"))
    if known(content):
        if kind == "A" and not _is_ip(content, 4):
            failures.append(("content", f"{content!r} is not an IPv4 address"))
        if kind == "AAAA" and not _is_ip(content, 6):
            failures.append(("content", f"{content!r} is not an IPv6 address"))
    if kind in ("A", "AAAA", "CNAME", "TXT", "MX") and content is None:
        failures.append(("content", f"a {kind} record needs content"))
    if kind == "MX" and values.get("priority") is None:
        failures.append(("priority", "an MX record needs a priority"))
    return failures


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def pages_env(values: dict[str, Any]) -> list[Failure]:
    failures = []
    for environment, config in (values.get("deploymentConfigs") or {}).items():
        if environment not in ("preview", "production"):
            failures.append((f"deploymentConfigs.{environment}", "expected preview or production"))
        for key, var in ((config or {}).get("envVars") or {}).items():
            if var.get("type") not in ("plain_text", "secret_text"):
                failures.append((f"deploymentConfigs.{environment}.envVars.{key}.type",
                                 f"expected plain_text or secret_text; got {var.get('type')!r}"))
            if var.get("value") is None:
                failures.append((f"deploymentConfigs.{environment}.envVars.{key}.value", "is required"))
    return failures


def one_cname_alone(mine: dict[str, Any], other: dict[str, Any]) -> str | None:
    """Cloudflare's refusal of a CNAME beside an A, AAAA or CNAME of the same name (and of those beside a
    CNAME): the engine creates a new record before it deletes the old, so a name moved between the two
    kinds in one up is refused here as it is there."""
    if (mine.get("zoneId"), mine.get("name")) != (other.get("zoneId"), other.get("name")):
        return None
    kinds = {mine.get("type"), other.get("type")}
    if "CNAME" in kinds and kinds <= {"A", "AAAA", "CNAME"}:
        return "An A, AAAA, or CNAME record with that host already exists. (81053)"
    return None


def cloud() -> Cloud:
    def credentials(values: dict[str, Any]) -> list[Failure]:
        import os

        if values.get("apiToken") is None and values.get("apiKey") is None and not os.environ.get(
                "CLOUDFLARE_API_TOKEN"):
            return [("apiToken", "no credential: set it with `pulumi config set --secret cloudflare:apiToken` "
                                 "(or CLOUDFLARE_API_TOKEN)")]
        return []

    return Cloud(
        name=NAME, title="Cloudflare", package="pulumi_cloudflare", config_rules=(credentials,),
        kinds=kinds(
            Kind("cloudflare:index/dnsRecord:DnsRecord", replace_on=("zoneId",),
                 rules=(matches("zoneId", ZONE_ID, "a zone ID (32 hex digits)"), matches("name", HOST, "a hostname"),
                        one_of("type", ("A", "AAAA", "CAA", "CERT", "CNAME", "DNSKEY", "DS", "HTTPS", "LOC", "MX",
                                        "NAPTR", "NS", "OPENPGPKEY", "PTR", "SMIMEA", "SRV", "SSHFP", "SVCB", "TLSA",
                                        "TXT", "URI")),
                        at_most("comment", 100), dns_record),
                 clash=one_cname_alone,
                 computed=lambda id_, name, inputs: {"proxiable": inputs.get("type") in ("A", "AAAA", "CNAME"),
                                                     "createdOn": "2026-01-01T00:00:00Z",
                                                     "modifiedOn": "2026-01-01T00:00:00Z"}),
            Kind("cloudflare:index/pagesProject:PagesProject", replace_on=("accountId", "name"),
                 rules=(matches("accountId", ZONE_ID, "an account ID (32 hex digits)"),
                        matches("name", r"[a-z0-9][a-z0-9-]{0,57}", "a Pages project name (lowercase letters, "
                                "digits and dashes, at most 58)"), pages_env),
                 new_id=lambda name, inputs: str(inputs.get("name")),
                 computed=lambda id_, name, inputs: {"subdomain": f"{inputs.get('name')}.pages.dev",
                                                     "createdOn": "2026-01-01T00:00:00Z"}),
            Kind("cloudflare:index/pagesDomain:PagesDomain", replace_on=("accountId", "projectName", "name"),
                 rules=(matches("name", HOST, "a hostname"),),
                 new_id=lambda name, inputs: str(inputs.get("name")),
                 computed=lambda id_, name, inputs: {"status": "active"}),
        ),
    )
