"""Rules over the whole stack: each system's sections in turn, then what spans systems (claims on one
name, address or project; resource names; renames)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..topology import Credentials, ExistingHost, PagesFrontend, Settings, System
from .addresses import fqdn, ip_text
from .dns import check_dns, check_hostname_hosts, check_hostnames
from .findings import Findings, RuntimeRules, SecretLookup
from .frontends import check_frontend_domains, check_frontends
from .github import check_github
from .hosts import check_host_setup, check_hosts, check_ssh_access, check_ssh_key_adoption
from .services import check_services
from .supabase import check_supabase


def check(settings: Settings, secret_state: SecretLookup, runtimes: Mapping[str, RuntimeRules]) -> Findings:
    """Every rule over ``settings``: the problems and warnings found."""
    rules = Findings(settings, secret_state, runtimes)
    run(rules)
    return rules


def run(rules: Findings) -> None:
    systems = rules.settings.systems or {}
    for path, system in rules.named("systems", "system", systems):
        for cloud in dataclasses.fields(Credentials):
            secret = getattr(system.credentials, cloud.name, None) if system.credentials else None
            if secret is not None:
                rules.check_value(f"{path}.credentials.{cloud.name}", system, secret)
        check_hosts(rules, path, system)
        check_dns(rules, path, system)
        check_frontends(rules, path, system)
        check_github(rules, path, system)
        check_services(rules, path, system)
        check_host_setup(rules, path, system)
        check_hostnames(rules, path, system)
        check_supabase(rules, path, system)
    check_global(rules, systems)
    check_ssh_access(rules, systems)
    check_ssh_key_adoption(rules)
    check_renames(rules, "systems", systems)
    for sname, system in systems.items():
        if system is not None:
            check_renames(rules, f"systems.{sname}.hosts", system.hosts or {})


def check_global(rules: Findings, systems: Mapping[str, System | None]) -> None:
    owners: dict[tuple, str] = {}

    def claim(key: tuple, path: str, what: str) -> None:
        if key in owners:
            rules.fail(path, f"{what} is already used at {owners[key]}")
        else:
            owners[key] = path

    check_resource_names(rules, systems)
    check_frontend_domains(rules, systems)
    check_hostname_hosts(rules, systems)
    for sname, system in systems.items():
        if system is None:
            continue
        for hname, host in (system.hosts or {}).items():
            if isinstance(host, ExistingHost) and host.address:
                # One address in one spelling (2001:DB8::10 is 2001:db8::10).
                claim(("address", ip_text(host.address) or host.address.lower()),
                      f"systems.{sname}.hosts.{hname}.address", f"address {host.address}")
            key = host.access.host_key if host is not None and host.access is not None else None
            if key:
                # One server under two names (an address and a hostname, IPv4 and IPv6): each host's steps
                # would undo the other's (its proxy site, database passwords, backups).
                claim(("host key", " ".join(key.split()[:2])), f"systems.{sname}.hosts.{hname}.access.hostKey",
                      "this host key (one server: describe it as one host)")
        zones = (system.dns.zones if system.dns else None) or {}
        for i, record in enumerate((system.dns.records if system.dns else None) or ()):
            zone = zones.get(record.zone) if record is not None else None
            if zone is None or not fqdn(record):
                continue
            # Records of one name belong to one system: two systems writing the same name fight.
            rpath = f"systems.{sname}.dns.records[{i}]"
            first = owners.setdefault(("record", zone.zone_id, fqdn(record)), rpath)
            if not first.startswith(f"systems.{sname}."):
                rules.fail(rpath, f"'{fqdn(record)}' is also managed at {first}")
        for fname, frontend in (system.frontends or {}).items():
            if frontend is None:
                continue
            fpath = f"systems.{sname}.frontends.{fname}"
            scope = frontend.account_id if isinstance(frontend, PagesFrontend) else frontend.team_id
            claim(("project", frontend.kind, scope, frontend.project), f"{fpath}.project",
                  f"project name '{frontend.project}'")
            for i, domain in enumerate(frontend.domains or ()):
                claim(("domain", domain), f"{fpath}.domains[{i}]", f"domain {domain}")
        if system.supabase is not None and system.supabase.project_ref:
            claim(("supabase", system.supabase.project_ref), f"systems.{sname}.supabase.projectRef",
                  f"Supabase project {system.supabase.project_ref}")
        if system.github is not None:
            for repo, spec in (system.github.repositories or {}).items():
                for key in ((spec.secrets if spec else None) or {}):
                    # GitHub compares owners, repositories and secret names without case.
                    claim(("gh-secret", (system.github.owner or "").lower(), repo.lower(), key.upper()),
                          f"systems.{sname}.github.repositories.{repo}.secrets.{key}",
                          f"secret {key} of {system.github.owner}/{repo}")


def check_resource_names(rules: Findings, systems: Mapping[str, System | None]) -> None:
    """A system's resources are named ``<system>-<host>``, ``<system>-<frontend>``, ``<system>-dns``...
    and their parts ``<that>-<step>``; the system's name is not in a resource's URN. So system ``a``'s
    host ``b-box`` and system ``a-b``'s host ``box`` would be one resource to Pulumi, each system's
    ``up`` rewriting the other's; and where one name begins another's, renames and claims (which go
    by prefix) could take one's resources for the other's."""
    stems: list[tuple[str, str, str]] = []  # (name, system, config path)
    for sname, system in systems.items():
        if system is None:
            continue
        owned = [(f"{sname}-{h}", f"systems.{sname}.hosts.{h}") for h in system.hosts or {}]
        owned += [(f"{sname}-{f}", f"systems.{sname}.frontends.{f}") for f in system.frontends or {}]
        owned += [(f"{sname}-{part}", f"systems.{sname}.{part}")
                  for part, used in (("dns", system.dns is not None and system.dns.records),
                                     ("supabase", system.supabase), ("github", system.github)) if used]
        for name, path in owned:
            clash = next(((other, opath) for other, osystem, opath in stems if osystem != sname
                          and (name == other or name.startswith(f"{other}-") or other.startswith(f"{name}-"))),
                         None)
            if clash is not None:
                rules.fail(path, f"its resources are named '{name}-...', and those of {clash[1]} "
                                f"'{clash[0]}-...': Pulumi would take one's for the other's (a resource's "
                                "name does not include its system); rename one of them")
            stems.append((name, sname, path))


def check_renames(rules: Findings, path: str, entries: dict) -> None:
    """A former name can stand for one entry only, and never for one that is still there: Pulumi could
    not tell whose state it is."""
    claimed: dict[str, str] = {}
    for name, entry in entries.items():
        for i, old in enumerate(getattr(entry, "formerly", None) or ()):
            fpath = f"{path}.{name}.formerly[{i}]"
            if old is None:
                continue
            if old in entries:
                rules.fail(fpath, f"'{old}' is a name in use here, so its resources cannot also be this one's: "
                                 "rename in two steps, or move each resource's state by hand "
                                 "(`pulumi state rename <urn> <new name>`)")
            elif old in claimed:
                rules.fail(fpath, f"'{old}' is also a former name of {claimed[old]}: one entry only can take its "
                                 "state (`pulumi state rename <urn> <new name>` moves a resource by hand)")
            else:
                claimed[old] = f"{path}.{name}"
