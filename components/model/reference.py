"""Prints the stack file reference (README.md, "Stack file reference") from the model's field docs.

    venv/bin/python -m components.model.reference
"""

from __future__ import annotations

import dataclasses

from . import topology
from .parse import camel

SECTIONS = [
    ("stackyard:<key>", topology.Settings),
    ("systems.<name>", topology.System),
    ("systems.<name>.credentials", topology.Credentials),
    ("hosts.<name> (provider: hetzner or digitalocean)", topology.CreatedHost),
    ("hosts.<name> (provider: hetzner)", topology.HetznerHost),
    ("hosts.<name> (provider: digitalocean)", topology.DigitalOceanHost),
    ("hosts.<name>.adopt (hetzner)", topology.HetznerAdoption),
    ("hosts.<name>.adopt (digitalocean)", topology.DigitalOceanAdoption),
    ("hosts.<name> (provider: existing)", topology.ExistingHost),
    ("hosts.<name>.access", topology.Access),
    ("hosts.<name> (any provider): provisioning", topology.HostSetup),
    ("hosts.<name>.proxy", topology.Proxy),
    ("hosts.<name>.proxy.acme", topology.Acme),
    ("hosts.<name>.accessories.<kind>", topology.Accessory),
    ("hosts.<name>.backups", topology.Backups),
    ("hosts.<name>.backups.offsite", topology.Offsite),
    ("hosts.<name>.docker", topology.Docker),
    ("services.<name>", topology.Service),
    ("services.<name>.source", topology.Source),
    ("services.<name>.build", topology.ImageBuild),
    ("services.<name>.health", topology.Health),
    ("services.<name>.replaces", topology.Replaces),
    ("services.<name>.watchdog", topology.Watchdog),
    ("services.<name>.limits", topology.Limits),
    ("services.<name>.logs", topology.Logs),
    ("services.<name>.limits.rateLimit", topology.RateLimit),
    ("dns", topology.Dns),
    ("dns.zones.<zone>", topology.DnsZone),
    ("dns.records[]", topology.DnsRecord),
    ("frontends.<name> (kind: cloudflare-pages)", topology.PagesFrontend),
    ("frontends.<name> (kind: vercel)", topology.VercelFrontend),
    ("frontends.<name>.adopt (cloudflare-pages)", topology.PagesAdoption),
    ("frontends.<name>.adopt (vercel)", topology.VercelAdoption),
    ("frontends.<name>.build", topology.Build),
    ("supabase", topology.Supabase),
    ("supabase.auth", topology.SupabaseAuth),
    ("supabase.auth.external.<provider>", topology.OAuthProvider),
    ("supabase.api", topology.SupabaseApi),
    ("supabase.network", topology.SupabaseNetwork),
    ("supabase.database", topology.SupabaseDatabase),
    ("supabase.database.policies[]", topology.SupabasePolicy),
    ("github", topology.Github),
    ("github.repositories.<name>", topology.GithubRepository),
    ("values: {secret: ...}", topology.SecretRef),
    ("values: {record: ...}", topology.RecordRef),
    ("values: {host: ...}", topology.HostRef),
    ("values: {accessory: ...}", topology.AccessoryRef),
    ("values: {frontend: ...}", topology.FrontendRef),
]


def default_of(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
        if isinstance(value, topology.SecretRef):
            return f"`{{secret: {value.secret}}}`"
        if dataclasses.is_dataclass(value) or value is None:
            return ""
        return f"`{str(value).lower() if isinstance(value, bool) else value}`"
    if field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
        return f"`{list(value)}`" if value else ""
    return "required"


def kind_of(field: dataclasses.Field) -> str:
    """The kinds of a field's strings (components/model/kinds.py): ``keys -> values`` for a mapping."""
    kind, keys = field.metadata.get("kind"), field.metadata.get("keys")
    if keys is not None:
        return f"{keys.name} -> {kind.name if kind else '...'}"
    return kind.name if kind is not None else ""


def reference() -> str:
    lines = []
    for title, cls in SECTIONS:
        lines += [f"**{title}**: {(cls.__doc__ or '').strip()}", "", "| key | kind | default | meaning |",
                  "|---|---|---|---|"]
        inherited = {f.name for base in cls.__bases__ if dataclasses.is_dataclass(base)
                     for f in dataclasses.fields(base)}
        for field in (f for f in dataclasses.fields(cls) if f.name not in inherited):
            doc = field.metadata.get("doc", "").replace("|", "\\|")
            lines.append(f"| `{camel(field.name)}` | {kind_of(field)} | {default_of(field)} | {doc} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(reference(), end="")
