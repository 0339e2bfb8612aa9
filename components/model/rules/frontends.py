"""Rules for frontends (Cloudflare Pages, Vercel): projects, domains, adoption and build variables."""

from __future__ import annotations

from collections.abc import Mapping

from ..topology import PagesFrontend, SecretRef, System, VercelFrontend
from .addresses import fqdn, in_zone
from .findings import Findings

# Variables with these prefixes are compiled into the browser bundle (Vite and Astro, Next, CRA, Gatsby,
# Nuxt, Vue CLI, Expo, Storybook, Sanity Studio). The policy pack keeps the same list (BROWSER_PREFIXES).
PUBLIC_PREFIXES = ("VITE_", "NEXT_PUBLIC_", "REACT_APP_", "PUBLIC_", "GATSBY_", "NUXT_PUBLIC_", "VUE_APP_",
                   "EXPO_PUBLIC_", "STORYBOOK_", "SANITY_STUDIO_")



def check_frontends(rules: Findings, path: str, system: System) -> None:
    zones = (system.dns.zones if system.dns else None) or {}
    for fpath, frontend in rules.named(f"{path}.frontends", "frontend", system.frontends):
        public = tuple(frontend.public_secrets or ())
        bundled = check_env(rules, f"{fpath}.env", system, frontend.env, public)
        for i, key in enumerate(public):
            if key not in bundled:
                rules.fail(f"{fpath}.publicSecrets[{i}]",
                          f"'{key}' is not a secret in a browser-bundled variable of this frontend")
        if isinstance(frontend, VercelFrontend):
            for key, value in ((frontend.env or {}).get("development") or {}).items():
                if isinstance(value, SecretRef):
                    rules.fail(f"{fpath}.env.development.{key}",
                              "Vercel keeps secrets as sensitive variables, which cannot target development")
        elif isinstance(frontend, PagesFrontend) and frontend.build and frontend.build.install_command:
            rules.fail(f"{fpath}.build.installCommand", "Cloudflare Pages has no install command setting; "
                                                      "put it in build.command")
        check_frontend_adoption(rules, fpath, frontend)
        if frontend.zone is not None:
            if frontend.zone not in zones:
                rules.fail(f"{fpath}.zone",
                          f"unknown zone '{frontend.zone}' (dns.zones: {', '.join(zones) or 'none'})")
            else:
                for i, domain in enumerate(frontend.domains or ()):
                    if domain and not in_zone(domain, frontend.zone):
                        rules.fail(f"{fpath}.domains[{i}]", f"'{domain}' is not in zone '{frontend.zone}'")
        elif frontend.domains:
            rules.warn(f"{fpath}: domains have no zone, so their DNS records are left to you")


def check_frontend_adoption(rules: Findings, fpath: str, frontend) -> None:
    adopt = frontend.adopt
    if adopt is None:
        return
    for domain in adopt.records or {}:
        if domain not in (frontend.domains or ()):
            rules.fail(f"{fpath}.adopt.records.{domain}", f"'{domain}' is not one of this frontend's domains")
        elif frontend.zone is None:
            rules.fail(f"{fpath}.adopt.records.{domain}", "this frontend's domains have no zone: stackyard "
                                                          "manages no record for them")
    if isinstance(frontend, VercelFrontend):
        for key, targets in (adopt.env or {}).items():
            for target in targets or {}:
                if key not in ((frontend.env or {}).get(target) or {}):
                    rules.fail(f"{fpath}.adopt.env.{key}.{target}", f"{key} is not set for {target} in env")


def check_env(rules: Findings, path: str, system: System, env: dict | None, public: tuple[str, ...] = ()) -> set[str]:
    """Checks a frontend's env; returns the keys that put a secret into the browser bundle."""
    bundled = set()
    for target, values in (env or {}).items():
        for key, value in (values or {}).items():
            rules.check_value(f"{path}.{target}.{key}", system, value)
            if isinstance(value, SecretRef) and key.startswith(PUBLIC_PREFIXES):
                bundled.add(key)
                accepted = " (accepted in publicSecrets)" if key in public else ""
                rules.warn(
                    f"{path}.{target}.{key}: secret '{value.secret}' goes into a {key.split('_')[0]}_ "
                    f"variable, which the build compiles into the public browser bundle{accepted}")
    return bundled


def check_frontend_domains(rules: Findings, systems: Mapping[str, System | None]) -> None:
    """A frontend's domain is served by Pages or Vercel, through the A or CNAME record its component
    writes: an address record of that name in dns.records fights it (Cloudflare refuses a CNAME beside
    an A, and `up` failed at the provider, far from the stack file), and a service or static site of
    that name on a host waits forever for a certificate the name never points it at."""
    domains: dict[str, str] = {}
    for sname, system in systems.items():
        for fname, frontend in ((system.frontends if system else None) or {}).items():
            for i, domain in enumerate((frontend.domains if frontend else None) or ()):
                domains.setdefault(domain, f"systems.{sname}.frontends.{fname}.domains[{i}]")

    def clash(name: str | None, path: str) -> None:
        if name in domains:
            rules.fail(path, f"{name} is served by the frontend at {domains[name]}: one of the two goes (moving it, "
                             "the old record goes in one up and the frontend's in the next: docs/operating.md)")

    for sname, system in systems.items():
        if system is None:
            continue
        for i, record in enumerate((system.dns.records if system.dns else None) or ()):
            if record is not None and record.type in ("A", "AAAA", "CNAME"):
                clash(fqdn(record), f"systems.{sname}.dns.records[{i}]")
        for spath, service in rules.named(f"systems.{sname}.services", "service", system.services):
            for i, hostname in enumerate(service.hostnames or ()):
                clash(hostname, f"{spath}.hostnames[{i}]")
        for hname, host in (system.hosts or {}).items():
            for hostname in ((host.proxy.static if host and host.proxy else None) or {}):
                clash(hostname, f"systems.{sname}.hosts.{hname}.proxy.static.{hostname}")
