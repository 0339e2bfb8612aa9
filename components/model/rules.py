"""Rules that span fields: cross-references, duplicates, clashes and provider constraints.

They run on whatever the reader could parse (fields it could not read are None) so that one
pass reports every problem.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any, Literal

from ..render.layout import MAX_INSTANCES, SLOT_OFFSET, Paths
from . import formats, host_paths
from .parse import camel
from .supabase_rules import check_supabase
from .topology import (
    AccessoryRef,
    Acme,
    CreatedHost,
    Credentials,
    DigitalOceanHost,
    DnsRecord,
    ExistingHost,
    FrontendRef,
    HetznerHost,
    HostRef,
    PagesFrontend,
    RecordRef,
    SecretRef,
    Service,
    Settings,
    System,
    VercelFrontend,
)

SecretState = Literal["secret", "plain", "missing"]
SecretLookup = Callable[[str], SecretState]

RESERVED_SERVICE_NAMES = frozenset({"claims", "watchdog", "upstreams", "accessories", "backup", "replaced",
                                    "self-signed"})
"""Directories stackyard keeps beside the services' own (/var/lib/stackyard/<name>, /etc/stackyard/<name>)."""
SYSTEM_LOG_NAMES = frozenset({
    "nginx", "caddy", "redis", "mysql", "mariadb", "postgresql", "letsencrypt", "apt", "journal", "private",
    "installer", "unattended-upgrades", "dist-upgrade", "docker", "cloud-init", "sysstat", "runit", "restic",
    "landscape", "fail2ban"})
"""Directories under /var/log that packages stackyard installs (or the distribution) keep and write as
root. A service's log directory is /var/log/<name>, its user's: a service so named, on a host that only
later gets that package, would own the directory root's rotation and the package's scripts write in."""
MAX_SERVICE_NAME = 28

# Variables stackyard sets for a service itself (components/render/units.py), by runtime: what it is there.
# The env file's values win over systemd's Environment= lines, so a PORT there put every instance on one
# port (PM2 and compose put stackyard's PORT over the env file's: the value was silently ignored); a PATH,
# HOME or PM2_HOME there takes the service off its release's tools and its own directories.
STACKYARD_ENV = {
    "PORT": {"systemd": "each instance's own port", "pm2": "each instance's own port",
             "compose": "the container's port"},
    "PATH": {"systemd": "the release's .venv/bin first", "pm2": "the PM2 daemon's"},
    "HOME": {"systemd": "the service user's state directory", "pm2": "the service user's state directory"},
    "PM2_HOME": {"pm2": "the service's own PM2 daemon"},
}
MAX_KEEP = 1000
"""Most releases, dumps, copies or rotated logs kept: more is a full disk, not a retention policy."""

# systemd units a service's `replaces` may never stop and disable: the system's own, SSH, and what stackyard
# installs and runs (the proxies, Docker, the databases, the firewall, its own units, stackyard-*).
SYSTEM_UNITS = frozenset({
    "nginx", "caddy", "ssh", "sshd", "docker", "containerd", "cron", "crond", "mariadb", "mysql", "redis",
    "redis-server", "postgresql", "ufw", "dbus", "dbus-broker", "getty", "serial-getty", "console-getty", "user",
    "cloud-init", "cloud-config", "cloud-final", "networking", "unattended-upgrades", "rsyslog", "polkit",
    "snapd", "chrony", "ntp", "apparmor", "multipathd", "fail2ban", "emergency", "rescue",
    # Other names of the same units (Debian's aliases): mysqld is MariaDB, syslog is rsyslog.
    "mysqld", "syslog", "postgresql-common"})
SYSTEM_UNIT_PREFIXES = ("systemd-", "stackyard-", "cloud-init", "dbus-org.")

RESERVED_PORTS = {22: "SSH", 80: "HTTP", 443: "HTTPS", 3306: "MySQL", 5432: "PostgreSQL", 6379: "Redis"}
SLOT_SPAN = max(SLOT_OFFSET.values()) + MAX_INSTANCES  # the highest instance port above the service port

# Variables with these prefixes are compiled into the browser bundle (Vite and Astro, Next, CRA, Gatsby,
# Nuxt, Vue CLI, Expo, Storybook, Sanity Studio). The policy pack keeps the same list (BROWSER_PREFIXES).
PUBLIC_PREFIXES = ("VITE_", "NEXT_PUBLIC_", "REACT_APP_", "PUBLIC_", "GATSBY_", "NUXT_PUBLIC_", "VUE_APP_",
                   "EXPO_PUBLIC_", "STORYBOOK_", "SANITY_STUDIO_")


class Rules:
    def __init__(self, settings: Settings, secret_state: SecretLookup) -> None:
        self.settings = settings
        self.secret_state = secret_state
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def within(self, path: str, value: int | None, low: int, high: int, unit: str = "") -> None:
        """A number the scripts use as it is: 0 or a negative one means "never" or "none" to them (curl
        --max-time 0 never times out, sleep 0 spins), and a huge one holds a deploy or fills a disk."""
        if value is not None and not low <= value <= high:
            self.fail(path, f"{value} is out of range: at least {low} and at most {high}{unit}")

    def run(self) -> None:
        systems = self.settings.systems or {}
        for path, system in self.named("systems", "system", systems):
            for cloud in dataclasses.fields(Credentials):
                secret = getattr(system.credentials, cloud.name, None) if system.credentials else None
                if secret is not None:
                    self.check_value(f"{path}.credentials.{cloud.name}", system, secret)
            self.check_hosts(path, system)
            self.check_dns(path, system)
            self.check_frontends(path, system)
            self.check_github(path, system)
            self.check_services(path, system)
            self.check_hostnames(path, system)
            check_supabase(self, path, system)
        self.check_global(systems)
        self.check_ssh_access(systems)
        self.check_ssh_key_adoption()
        self.check_renames("systems", systems)
        for sname, system in systems.items():
            if system is not None:
                self.check_renames(f"systems.{sname}.hosts", system.hosts or {})

    # --- values -------------------------------------------------------------------------

    def check_value(self, path: str, system: System, value: object, host: str | None = None) -> None:
        if isinstance(value, AccessoryRef):
            spec = (system.hosts or {}).get(host) if host else None
            accessories = getattr(spec, "accessories", None) or {}
            accessory = accessories.get(value.accessory)
            if host is None:
                self.fail(f"{path}.accessory", "accessory passwords can only be used by services")
            elif value.accessory not in accessories:
                self.fail(f"{path}.accessory", f"host '{host}' has no {value.accessory} accessory")
            elif accessory is not None and accessory.existing and accessory.password is None:
                self.fail(f"{path}.accessory", f"host '{host}''s {value.accessory} is an existing server whose "
                                               "password stackyard does not know: set its password secret")
        elif isinstance(value, SecretRef) and value.secret:
            state = self.secret_state(value.secret)
            if state == "missing":
                self.fail(path, f"secret '{value.secret}' is not set: run "
                                f"`pulumi config set --secret stackyard:{value.secret} <value>`")
            elif state == "plain":
                self.fail(path, f"stackyard:{value.secret} is stored in plain text: set it again with "
                                f"`pulumi config set --secret stackyard:{value.secret} <value>`")
        elif isinstance(value, FrontendRef) and value.frontend:
            frontend = (system.frontends or {}).get(value.frontend)
            if path.split(".")[2:3] != ["github"]:
                # Frontends are made after hosts, Supabase and their own variables: only Actions secrets,
                # made last, can wait for them.
                self.fail(f"{path}.frontend", "a frontend's IDs can be used in github secrets only")
            elif not isinstance(frontend, VercelFrontend):
                vercel = [n for n, f in (system.frontends or {}).items() if isinstance(f, VercelFrontend)]
                self.fail(f"{path}.frontend", f"no Vercel frontend named '{value.frontend}' in this system "
                                              f"(Vercel frontends: {', '.join(vercel) or 'none'})")
            elif value.output == "teamId" and not frontend.team_id:
                self.fail(f"{path}.output", f"frontend '{value.frontend}' names no teamId: set it to the team "
                                            "that owns the project")
        elif isinstance(value, RecordRef) and value.record:
            records = {fqdn(r): r for r in (system.dns.records or ()) if r is not None and fqdn(r)}
            if value.record not in records:
                known = ", ".join(sorted(records)) or "none"
                self.fail(f"{path}.record", f"no DNS record '{value.record}' in this system (records: {known})")
        elif isinstance(value, HostRef) and value.host:
            hosts = system.hosts or {}
            host = hosts.get(value.host)
            if host is None:
                self.fail(f"{path}.host", f"no host named '{value.host}' in this system "
                                          f"(hosts: {', '.join(hosts) or 'none'})")
            elif value.family == "ipv6" and not has_ipv6(host):
                self.fail(f"{path}.family", f"host '{value.host}' has no IPv6 address")

    def check_env(self, path: str, system: System, env: dict | None, public: tuple[str, ...] = ()) -> set[str]:
        """Checks a frontend's env; returns the keys that put a secret into the browser bundle."""
        bundled = set()
        for target, values in (env or {}).items():
            for key, value in (values or {}).items():
                self.check_value(f"{path}.{target}.{key}", system, value)
                if isinstance(value, SecretRef) and key.startswith(PUBLIC_PREFIXES):
                    bundled.add(key)
                    accepted = " (accepted in publicSecrets)" if key in public else ""
                    self.warnings.append(
                        f"{path}.{target}.{key}: secret '{value.secret}' goes into a {key.split('_')[0]}_ "
                        f"variable, which the build compiles into the public browser bundle{accepted}")
        return bundled

    # --- hosts --------------------------------------------------------------------------

    def named(self, path: str, kind: str, entries: dict | None) -> Iterator[tuple[str, Any]]:
        """(path, entry) for each readable entry (its name is checked by its kind, kinds.NAME)."""
        for name, entry in (entries or {}).items():
            if entry is not None:
                yield f"{path}.{name}", entry

    def check_hosts(self, path: str, system: System) -> None:
        hosts = system.hosts or {}
        for name in hosts:
            # A host's provisioning resources are named <system>-<host>-setup-<step>: a host named
            # <other>-setup... would have names that begin the same way (renames.former_names could not tell
            # whose a resource is, and two could collide).
            other = next((o for o in hosts if name == f"{o}-setup" or name.startswith(f"{o}-setup-")), None)
            if other is not None:
                self.fail(f"{path}.hosts.{name}", f"host '{other}''s resources are named {other}-setup-...: a "
                                                  f"host named '{name}' would share their names; call it "
                                                  "something else")
        for hpath, host in self.named(f"{path}.hosts", "host", system.hosts):
            if host.access is not None and host.access.private_key is not None:
                self.check_value(f"{hpath}.access.privateKey", system, host.access.private_key)
            self.check_host_key(hpath, host)
            if isinstance(host, CreatedHost):
                if not (self.settings.ssh_keys or ()) and not (host.ssh_keys or ()):
                    self.fail(f"{hpath}.sshKeys", "a created host needs at least one SSH public key "
                                                  "(here or in stackyard:sshKeys)")
                ssh_port = host.access.ssh_port if host.access else 22
                seen: set[int] = set()
                for i, port in enumerate(host.open_ports or ()):
                    if port is None:
                        continue
                    if port == ssh_port:
                        self.fail(f"{hpath}.openPorts[{i}]", f"port {port} is the SSH port; it is always open "
                                                             "to access.sshAllowFrom")
                    elif port in seen:
                        self.fail(f"{hpath}.openPorts[{i}]", f"port {port} is listed twice")
                    seen.add(port)
                missing = [port for port in (80, 443) if port not in seen]
                if host.proxy is not None and host.provision and missing:
                    # The cloud firewall drops what openPorts does not list: the proxy would start, its
                    # health checks pass over loopback, and nobody could reach it, nor could the CA.
                    self.fail(f"{hpath}.openPorts", f"the host's proxy serves on 80 and 443, and the cloud firewall "
                                                    f"lets in only the ports listed here: add "
                                                    f"{' and '.join(map(str, missing))}")
                self.check_host_adoption(hpath, host)

    def check_host_key(self, hpath: str, host) -> None:
        """A server that runs already must have its host key pinned; one stackyard creates gets its own,
        unless a key is given (a server adopted once, whose `adopt:` was removed since, keeps its key)."""
        access = host.access
        if access is None:
            return
        running = isinstance(host, ExistingHost) or getattr(host, "adopt", None) is not None
        if running and host.provision and not access.host_key:
            address = host.address if isinstance(host, ExistingHost) else "<its address>"
            self.fail(f"{hpath}.access.hostKey", "required: the server's ed25519 host key, pinned for every "
                                                 f"connection (`scripts/host-key {address}` prints it; compare its "
                                                 "fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` "
                                                 "on the server's console)")

    def check_host_adoption(self, hpath: str, host: CreatedHost) -> None:
        adopt = host.adopt
        if isinstance(host, HetznerHost) and adopt is not None and adopt.primary_ip and not host.primary_ip:
            self.fail(f"{hpath}.adopt.primaryIp", "the host keeps no Primary IP (primaryIp: false): set "
                                                  "primaryIp: true to adopt it, or leave it out")
        if isinstance(host, DigitalOceanHost) and adopt is not None and adopt.reserved_ip and not host.reserved_ip:
            self.fail(f"{hpath}.adopt.reservedIp", "the host keeps no Reserved IP (reservedIp: false): set "
                                                   "reservedIp: true to adopt it, or leave it out")

    def check_ssh_access(self, systems: dict[str, System | None]) -> None:
        """stackyard itself provisions over SSH, through the cloud firewall and ufw, which let in only the
        networks of a host's access.sshAllowFrom (or the stack's): an empty list, or one without a network of
        the family stackyard dials the host over, shuts stackyard out of the server it is changing (an
        existing server's ufw is its only way back)."""
        stack = self.settings.ssh_allow_from
        fallen_back: list[str] = []
        for sname, system in systems.items():
            for hpath, host in self.named(f"systems.{sname}.hosts", "host", (system.hosts if system else None)):
                created = isinstance(host, CreatedHost)
                if host.access is None or not (created or host.provision):
                    continue
                if not created and not host.ufw:
                    continue  # an existing server's list reaches only its ufw: without it, it filters nothing
                own = host.access.ssh_allow_from
                networks, lpath = (own, f"{hpath}.access.sshAllowFrom") if own else (stack, "sshAllowFrom")
                if networks is None:
                    continue  # unreadable, and reported so
                if not networks:
                    fallen_back.append(hpath)
                    continue
                if any(n is None or formats.cidr(n) for n in networks):
                    continue  # a network that is none is reported at its own path
                # Created servers are dialled at their IPv4 address; an existing one at its address, whose
                # family is known unless it is a name.
                address = host.address if isinstance(host, ExistingHost) else None
                family = 4 if created else 4 if address and not formats.ipv4(address) else \
                    6 if address and not formats.ipv6(address) else None
                if family and not any(ipaddress.ip_network(n).version == family for n in networks):
                    dialled = f"IPv4 address {address}" if address and family == 4 else \
                        f"IPv6 address {address}" if address else "its IPv4 address"
                    self.fail(lpath, f"stackyard itself connects over SSH to {hpath}, at {dialled}, and there "
                                     f"is no IPv{family} network here: list at least the IPv{family} network it "
                                     "connects from")
        if fallen_back:
            self.fail("sshAllowFrom", f"no network may reach SSH on {', '.join(fallen_back)} (their own "
                                      "access.sshAllowFrom is empty, and so is this): stackyard itself connects "
                                      "over SSH: list at least the network it connects from")

    def check_ssh_key_adoption(self) -> None:
        """Every adopted key must be a key stackyard would create for that cloud's hosts."""
        listed = {key.strip() for key in self.settings.ssh_keys or () if key}
        for system in (self.settings.systems or {}).values():
            for host in ((system.hosts if system else None) or {}).values():
                if isinstance(host, CreatedHost):
                    listed |= {key.strip() for key in host.ssh_keys or () if key}
        for provider, keys in (self.settings.adopt_ssh_keys or {}).items():
            for key, key_id in (keys or {}).items():
                path = f"adoptSshKeys.{provider}.{key[:24]}..."
                if key.strip() not in listed:
                    self.fail(path, "not a key of stackyard:sshKeys or any host's sshKeys")
                message = formats.numeric_id(str(key_id))
                if message:
                    self.fail(path, message)

    # --- DNS ----------------------------------------------------------------------------

    def check_dns(self, path: str, system: System) -> None:
        dns = system.dns
        if dns is None:
            return
        zones = dns.zones or {}
        for zone in zones:
            message = formats.hostname(zone)
            if message:
                self.fail(f"{path}.dns.zones.{zone}", f"zone name {message}")
        names: dict[str, list[tuple[int, DnsRecord]]] = defaultdict(list)
        for i, record in enumerate(dns.records or ()):
            rpath = f"{path}.dns.records[{i}]"
            if record is None:
                continue
            if record.zone is not None and record.zone not in zones:
                self.fail(f"{rpath}.zone", f"unknown zone '{record.zone}' (dns.zones: {', '.join(zones) or 'none'})")
            self.check_record(rpath, system, record)
            if fqdn(record):
                names[fqdn(record)].append((i, record))
        for name, entries in names.items():
            types = [r.type for _, r in entries]
            for i, record in entries[1:]:
                rpath = f"{path}.dns.records[{i}]"
                if "CNAME" in types:
                    self.fail(rpath, f"'{name}' has a CNAME record, which cannot share its name with other records")
                    break
                same = [r for _, r in entries if r.type == record.type and r.content == record.content
                        and r.host == record.host and r is not record]
                if same:
                    self.fail(rpath, f"duplicate {record.type} record for '{name}'")
                elif record.type in ("A", "AAAA") and any(r.type == record.type for _, r in entries if r is not record):
                    # Cloudflare accepts it and then serves both addresses in turn: half the traffic would
                    # go to the other server without anyone having asked for round-robin.
                    self.fail(rpath, f"a second {record.type} record for '{name}': Cloudflare would answer with "
                                     "both addresses in turn; keep one (adopt the live one with `adopt:`)")

    def check_record(self, rpath: str, system: System, record: DnsRecord) -> None:
        kind = record.type
        if record.host is not None and record.content is not None:
            self.fail(rpath, "give either content or host, not both")
        elif record.host is None and record.content is None:
            self.fail(f"{rpath}.content", "required: the record's content (or host for A/AAAA records)")
        if record.host is not None:
            hosts = system.hosts or {}
            if kind not in ("A", "AAAA"):
                self.fail(f"{rpath}.host", f"host can only fill A or AAAA records, not {kind}")
            elif record.host not in hosts:
                self.fail(f"{rpath}.host", f"no host named '{record.host}' in this system "
                                           f"(hosts: {', '.join(hosts) or 'none'})")
            elif kind == "AAAA" and hosts[record.host] is not None and not has_ipv6(hosts[record.host]):
                self.fail(f"{rpath}.host", f"host '{record.host}' has no IPv6 address for an AAAA record")
        if record.content is not None:
            check = {"A": formats.ipv4, "AAAA": formats.ipv6, "CNAME": formats.hostname,
                     "MX": formats.hostname}.get(kind)
            message = check(record.content) if check else None
            if message:
                self.fail(f"{rpath}.content", f"{kind} record content: {message}")
        if record.proxied and kind not in ("A", "AAAA", "CNAME"):
            self.fail(f"{rpath}.proxied", f"{kind} records cannot be proxied")
        if record.ttl is not None:
            if record.proxied and record.ttl != 1:
                self.fail(f"{rpath}.ttl", "proxied records have ttl 1 (automatic); remove ttl or set proxied: false")
            elif record.ttl != 1 and not 60 <= record.ttl <= 86400:
                self.fail(f"{rpath}.ttl",
                          f"{record.ttl} is not a TTL Cloudflare accepts (1 for automatic, or 60-86400)")
        self.within(f"{rpath}.priority", record.priority, 0, 65535)
        if kind == "MX" and record.priority is None:
            self.fail(f"{rpath}.priority", "required for MX records")
        if kind != "MX" and record.priority is not None:
            self.fail(f"{rpath}.priority", f"only MX records have a priority, not {kind}")

    # --- frontends ----------------------------------------------------------------------

    def check_frontends(self, path: str, system: System) -> None:
        zones = (system.dns.zones if system.dns else None) or {}
        for fpath, frontend in self.named(f"{path}.frontends", "frontend", system.frontends):
            public = tuple(frontend.public_secrets or ())
            bundled = self.check_env(f"{fpath}.env", system, frontend.env, public)
            for i, key in enumerate(public):
                if key not in bundled:
                    self.fail(f"{fpath}.publicSecrets[{i}]",
                              f"'{key}' is not a secret in a browser-bundled variable of this frontend")
            if isinstance(frontend, VercelFrontend):
                for key, value in ((frontend.env or {}).get("development") or {}).items():
                    if isinstance(value, SecretRef):
                        self.fail(f"{fpath}.env.development.{key}",
                                  "Vercel keeps secrets as sensitive variables, which cannot target development")
            elif isinstance(frontend, PagesFrontend) and frontend.build and frontend.build.install_command:
                self.fail(f"{fpath}.build.installCommand", "Cloudflare Pages has no install command setting; "
                                                          "put it in build.command")
            self.check_frontend_adoption(fpath, frontend)
            if frontend.zone is not None:
                if frontend.zone not in zones:
                    self.fail(f"{fpath}.zone",
                              f"unknown zone '{frontend.zone}' (dns.zones: {', '.join(zones) or 'none'})")
                else:
                    for i, domain in enumerate(frontend.domains or ()):
                        if domain and not in_zone(domain, frontend.zone):
                            self.fail(f"{fpath}.domains[{i}]", f"'{domain}' is not in zone '{frontend.zone}'")
            elif frontend.domains:
                self.warnings.append(f"{fpath}: domains have no zone, so their DNS records are left to you")

    def check_frontend_adoption(self, fpath: str, frontend) -> None:
        adopt = frontend.adopt
        if adopt is None:
            return
        for domain in adopt.records or {}:
            if domain not in (frontend.domains or ()):
                self.fail(f"{fpath}.adopt.records.{domain}", f"'{domain}' is not one of this frontend's domains")
            elif frontend.zone is None:
                self.fail(f"{fpath}.adopt.records.{domain}", "this frontend's domains have no zone: stackyard "
                                                              "manages no record for them")
        if isinstance(frontend, VercelFrontend):
            for key, targets in (adopt.env or {}).items():
                for target in targets or {}:
                    if key not in ((frontend.env or {}).get(target) or {}):
                        self.fail(f"{fpath}.adopt.env.{key}.{target}", f"{key} is not set for {target} in env")

    # --- GitHub -------------------------------------------------------------------------

    def check_github(self, path: str, system: System) -> None:
        github = system.github
        if github is None:
            return
        for repo, spec in (github.repositories or {}).items():
            rpath = f"{path}.github.repositories.{repo}"
            if formats.repository(f"{github.owner}/{repo}"):
                self.fail(rpath, f"'{github.owner}/{repo}' is not a valid GitHub repository name")
            # GitHub compares repository and secret names without case: two spellings are one repository,
            # one secret, and each entry would write it and, removed, delete it under the other.
            twin = next((other for other in github.repositories or {}
                         if other != repo and other.lower() == repo.lower()), None)
            if twin is not None:
                self.fail(rpath, f"is repository {twin} too (GitHub ignores case): keep one")
            if spec is None:
                continue
            for key, value in (spec.secrets or {}).items():
                spath = f"{rpath}.secrets.{key}"
                if key.upper().startswith("GITHUB_"):
                    self.fail(spath, "GitHub reserves names starting with GITHUB_ (use e.g. GH_TOKEN)")
                twin = next((other for other in spec.secrets if other != key and other.upper() == key.upper()), None)
                if twin is not None:
                    self.fail(spath, f"is secret {twin} too (GitHub ignores case in secret names): keep one")
                self.check_value(spath, system, value)

    # --- services -------------------------------------------------------------------------

    def check_services(self, path: str, system: System) -> None:
        hosts = system.hosts or {}
        taken: dict[tuple[str, int], str] = {}
        for spath, service in self.named(f"{path}.services", "service", system.services):
            name = service_name(spath)
            if name in RESERVED_SERVICE_NAMES:
                # Its directories would be stackyard's own (/var/lib/stackyard/claims, /etc/stackyard/upstreams).
                self.fail(spath, f"'{name}' is a name stackyard keeps for itself on the host: call the service "
                                 "something else")
            if name in SYSTEM_LOG_NAMES:
                self.fail(spath, f"'{name}' is the name of a system log directory (/var/log/{name}), which "
                                 "would become the service's: call the service something else")
            if len(name) > MAX_SERVICE_NAME:
                # svc-<name> is cut at 32 characters (Linux's limit): two long names would share one user.
                self.fail(spath, f"a service's name is at most {MAX_SERVICE_NAME} characters (its user, "
                                 f"svc-<name>, at most 32)")
            host = hosts.get(service.host) if service.host else None
            if service.host is not None and service.host not in hosts:
                self.fail(f"{spath}.host", f"no host named '{service.host}' in this system "
                                           f"(hosts: {', '.join(hosts) or 'none'})")
            if host is not None and not host.provision:
                self.fail(f"{spath}.host", f"host '{service.host}' has provision: false, so nothing deploys to it")
            if service.runtime in ("systemd", "pm2") and not service.command:
                self.fail(f"{spath}.command", f"required: the command that starts the service under {service.runtime}")
            if service.runtime == "compose" and service.command:
                self.fail(f"{spath}.command", "compose runs the image's own command (CMD in the Dockerfile)")
            if service.instances is not None and not 1 <= service.instances <= MAX_INSTANCES:
                self.fail(f"{spath}.instances", f"must be between 1 and {MAX_INSTANCES}")
            if service.keep_releases is not None and service.keep_releases < 2:
                self.fail(f"{spath}.keepReleases", "keep at least 2 releases, so a rollback has one to go to")
            else:
                # Each release is a whole checkout with its dependencies (a venv, node_modules).
                self.within(f"{spath}.keepReleases", service.keep_releases, 2, 50)
            if service.health is not None:
                self.within(f"{spath}.health.interval", service.health.interval, 1, 3600, " seconds")
                self.within(f"{spath}.health.timeout", service.health.timeout, 1, 300, " seconds")
                self.within(f"{spath}.health.retries", service.health.retries, 1, 100)
            if service.hostnames and service.port is None:
                self.fail(f"{spath}.port", "required: services with hostnames need a port for the proxy to serve")
            if service.hostnames and host is not None and host.proxy is None:
                self.fail(f"{spath}.hostnames", f"host '{service.host}' has no proxy to serve hostnames")
            if service.port is not None and service.port + SLOT_SPAN > 65535:
                self.fail(f"{spath}.port", f"instances use ports up to port+{SLOT_SPAN}: pick a port below "
                                           f"{65535 - SLOT_SPAN}")
            reserved = reserved_ports(host)
            for port in service_ports(service):
                owner = taken.get((service.host, port))
                if port in reserved:
                    self.fail(f"{spath}.port", f"port {port} ({'instance ' if port != service.port else ''}"
                                               f"of {service.port}) is {reserved[port]}'s on host '{service.host}'")
                    break
                if owner is not None:
                    # Both ends are named, so the report does not depend on the order the services come in
                    # (the CLI hands the program its config with keys sorted, not in stack file order).
                    for here, there in ((spath, owner), (owner, spath)):
                        self.fail(f"{here}.port", f"port {port} clashes with {there} on host '{service.host}' "
                                                  "(each service holds its port and the ports 1000 and 2000 "
                                                  "above it)")
                    break
            for port in service_ports(service):
                taken.setdefault((service.host, port), spath)
            self.check_source(spath, service, system)
            self.check_replaces(spath, service)
            self.check_watchdog(spath, service)
            self.check_limits(spath, service, host)
            self.check_logs(spath, service)
            self.check_compose(spath, service, system)
            for key, value in (service.env or {}).items():
                self.check_value(f"{spath}.env.{key}", system, value, service.host)
                # A worker (no port) gets no PORT from stackyard: its own is its to set.
                if service.runtime in STACKYARD_ENV.get(key, {}) and not (key == "PORT" and service.port is None):
                    self.fail(f"{spath}.env.{key}", f"stackyard sets {key} for the service "
                                                    f"({STACKYARD_ENV[key][service.runtime]}): leave it out of env")
            for name, value in (service.files or {}).items():
                fpath = f"{spath}.files.{name}"
                # Written as it is, `./a` beside `a` is two values for one file, `.` the release itself.
                normal = posixpath.normpath(name)
                inside = [other for other in service.files or {} if other.startswith(name.rstrip("/") + "/")]
                if ".." in name.split("/"):
                    self.fail(fpath, "paths may not contain '..'")
                elif normal == ".":
                    self.fail(fpath, "is the release directory itself: give a file's path, e.g. config/key.json")
                elif any(part.startswith(".stackyard.") for part in name.split("/")):
                    # What a killed write leaves is named so, and each deploy removes it from the files.
                    self.fail(fpath, "names starting with '.stackyard.' are stackyard's temporary files: rename it")
                elif normal != name:
                    self.fail(fpath, f"write it as '{normal}' (no '.' parts, no doubled or trailing '/')")
                elif inside:
                    self.fail(fpath, f"is a directory of {spath}.files.{inside[0]}: one path is a file or a "
                                     "directory, never both")
                elif service.runtime == "compose" and not name.startswith("/"):
                    self.fail(fpath, "compose files are mounted into the container: give an absolute path")
                elif service.runtime != "compose" and name.startswith("/"):
                    self.fail(fpath, "give a path relative to the release directory")
                self.check_value(fpath, system, value, service.host)
        # An old process's port is taken over from outside stackyard, never from a service of the stack or a
        # port the host keeps for itself: its upstream would route the new hostnames to that service.
        for spath, service in self.named(f"{path}.services", "service", system.services):
            listen = service.replaces.listen if service.replaces is not None else None
            owner = taken.get((service.host, listen)) if listen is not None else None
            if owner is not None and owner != spath:
                self.fail(f"{spath}.replaces.listen", f"port {listen} is {owner}'s on host '{service.host}': "
                                                      "replaces.listen names a process outside the stack")
            elif listen is not None:
                reserved = reserved_ports((system.hosts or {}).get(service.host))
                if listen in reserved:
                    self.fail(f"{spath}.replaces.listen", f"port {listen} is {reserved[listen]}'s, not a service's")
        for hname, host in hosts.items():
            if host is not None and not getattr(host, "provision", True):
                # Nothing is provisioned on it: what stackyard installed there leaves the state, and an
                # accessory's server is stopped, while the stack still lists it.
                for key, value in (("accessories", host.accessories), ("proxy", host.proxy),
                                   ("backups", host.backups)):
                    if value:
                        self.fail(f"{path}.hosts.{hname}.{key}",
                                  "the host has provision: false, so this never takes effect, and what stackyard "
                                  "set up for it would be removed (an accessory's server stopped): take it out "
                                  "of the stack to remove it, or provision the host")
            if host is None or not getattr(host, "provision", False):
                continue
            if host.access is None or host.access.private_key is None:
                self.fail(f"{path}.hosts.{hname}.access.privateKey",
                          "required: stackyard provisions this host over SSH and needs the key it logs in with "
                          "(or set provision: false)")
            self.check_docker(f"{path}.hosts.{hname}", hname, host, system)
            if host.backups is not None and host.backups.keep < 1:
                self.fail(f"{path}.hosts.{hname}.backups.keep", "keep at least one dump")
            elif host.backups is not None:
                self.within(f"{path}.hosts.{hname}.backups.keep", host.backups.keep, 1, MAX_KEEP)
            offsite = host.backups.offsite if host.backups is not None else None
            if offsite is not None:
                opath = f"{path}.hosts.{hname}.backups.offsite"
                for name in ("access_key", "secret_key", "password"):
                    if getattr(offsite, name) is not None:
                        self.check_value(f"{opath}.{camel(name)}", system, getattr(offsite, name))
                if offsite.repository is not None and not offsite.repository.startswith("s3:"):
                    self.fail(f"{opath}.repository", "an S3 repository: s3:https://<endpoint>/<bucket>[/<path>]")
                if offsite.keep is not None and offsite.keep < 1:
                    self.fail(f"{opath}.keep", "keep at least one copy")
                else:
                    self.within(f"{opath}.keep", offsite.keep, 1, MAX_KEEP)
            self.check_accessories(f"{path}.hosts.{hname}", system, host)
            self.check_host_paths(f"{path}.hosts.{hname}", host, system)
            if host.proxy is not None and host.proxy.tls == "internal" and host.proxy.acme != Acme():
                self.fail(f"{path}.hosts.{hname}.proxy.acme",
                          "tls: internal uses the host's own CA: acme is for tls: letsencrypt")
            elif host.proxy is not None and host.proxy.acme is not None and host.proxy.acme.ca_root and \
                    formats.lets_encrypt(host.proxy.acme.directory):
                # Caddy's acme_ca_root replaces the public roots for that directory: its renewals would fail.
                self.fail(f"{path}.hosts.{hname}.proxy.acme.caRoot",
                          "Let's Encrypt's directories are publicly trusted: caRoot is for a private CA, "
                          "whose https URL directory gives")
            for i, site in enumerate((host.proxy.replaces if host.proxy is not None else None) or ()):
                if site is None:
                    continue
                if host.proxy.kind == "caddy" and site != "Caddyfile":
                    self.fail(f"{path}.hosts.{hname}.proxy.replaces[{i}]",
                              "a Caddy has one site file: replaces: [Caddyfile]")
                elif host.proxy.kind == "nginx" and site.startswith("stackyard"):
                    # The sites it names are disabled in the reload that enables stackyard's own,
                    # sites-available/stackyard.conf and conf.d/stackyard.conf: every site would go offline.
                    self.fail(f"{path}.hosts.{hname}.proxy.replaces[{i}]",
                              f"'{site}' is stackyard's own (its site is stackyard.conf): name the old site's "
                              "file in sites-enabled or conf.d")

    def check_hostnames(self, path: str, system: System) -> None:
        """A hostname is served by one thing per host: nginx keeps the first server block of a name (and
        only warns), Caddy refuses the config, so a second use would silently serve the other's site."""
        first: dict[tuple[str, str], str] = {}

        def use(host: str, hostname: str | None, where: str, what: str) -> None:
            if hostname is None:
                return
            if (host, hostname) in first:
                self.fail(where, f"{hostname} is already served on host '{host}' by {first[host, hostname]}: "
                                 "a hostname is served by one service or static site per host; remove one")
            else:
                first[host, hostname] = what

        for spath, service in self.named(f"{path}.services", "service", system.services):
            for i, hostname in enumerate(service.hostnames or ()):
                use(service.host, hostname, f"{spath}.hostnames[{i}]", f"{spath}.hostnames[{i}]")
        for hname, host in (system.hosts or {}).items():
            proxy = host.proxy if host is not None else None
            for hostname in ((proxy.static if proxy is not None else None) or {}):
                where = f"{path}.hosts.{hname}.proxy.static.{hostname}"
                use(hname, hostname, where, f"the static site {where}")

    def check_host_paths(self, hpath: str, host, system: System) -> None:
        """Directories root serves or writes from: see host_paths."""
        service_dirs = [Paths().app(sname) for sname in system.services or {}]
        directory = host.backups.directory if host.backups is not None else None
        for name, root in sorted(((host.proxy.static if host.proxy else None) or {}).items()):
            problem = root is not None and host_paths.static_root_problem(root, service_dirs, directory)
            if problem:
                self.fail(f"{hpath}.proxy.static.{name}", problem)
        problem = directory is not None and host_paths.backup_directory_problem(directory, service_dirs)
        if problem:
            self.fail(f"{hpath}.backups.directory", problem)
        named: dict[str, str] = {}
        for i, path in enumerate((host.backups.paths if host.backups is not None else None) or ()):
            if path is None:
                continue
            problem = directory is not None and host_paths.backup_path_problem(path, directory)
            name = host_paths.archive_name(path)
            if problem:
                self.fail(f"{hpath}.backups.paths[{i}]", problem)
            elif name in named:
                # Both would be written to <name>.tar.gz, the second over the first.
                self.fail(f"{hpath}.backups.paths[{i}]", f"'{path}' and '{named[name]}' are both archived as "
                                                         f"{name}.tar.gz: the second would overwrite the first; "
                                                         "name one directory that holds both, or rename one")
            else:
                named[name] = path

    def check_accessories(self, hpath: str, system: System, host) -> None:
        """An existing server's password cannot be generated: it must be named wherever it is needed."""
        for kind, accessory in (host.accessories or {}).items():
            apath = f"{hpath}.accessories.{kind}"
            if accessory is None:
                continue
            if accessory.password is not None:
                self.check_value(f"{apath}.password", system, accessory.password)
            if accessory.existing and accessory.password is None and accessory.user:
                self.fail(f"{apath}.password", f"required: the password of the existing user '{accessory.user}' "
                                               "(stackyard never changes an existing server's password)")
            if kind == "redis" and accessory.user:
                self.fail(f"{apath}.user", "Redis has no users here: its password is the server's requirepass")

    def check_logs(self, spath: str, service: Service) -> None:
        logs = service.logs
        if logs is None:
            return
        if logs.keep is not None and logs.keep < 1:
            self.fail(f"{spath}.logs.keep", "keep at least 1 rotated file")
        else:
            self.within(f"{spath}.logs.keep", logs.keep, 1, MAX_KEEP)
        for i, path in enumerate(logs.files or ()):
            if path is None:
                continue
            own = f"/var/log/{service_name(spath)}/"
            if not path.startswith(own) or path.endswith("/"):
                # Its directory becomes the service's (root makes it, and hands it over): only one that is
                # the service's by name, never one the system or other programs use (/etc/ssh, /root/.ssh).
                self.fail(f"{spath}.logs.files[{i}]", f"log files live in the service's own directory, {own}..., "
                                                      f"e.g. {own}app.log")
            if service.runtime == "compose":
                self.fail(f"{spath}.logs.files[{i}]", "a container's files are not on the host; compose logs go "
                                                      "to Docker's log driver")

    def check_source(self, spath: str, service: Service, system: System) -> None:
        """A deploy key is for an ssh URL, whose server's host key must be pinned (GitHub's is known)."""
        source = service.source
        if source is None or source.repo is None:
            return
        server = ssh_server(source.repo)
        if source.repo.startswith("http://"):
            self.warnings.append(f"{spath}.source.repo: http:// can be changed on its way to the host: use https or "
                                 "ssh (a git server of your own on a private network is the one place for it)")
        if source.deploy_key is not None:
            self.check_value(f"{spath}.source.deployKey", system, source.deploy_key)
            if server is None:
                self.fail(f"{spath}.source.deployKey", "a deploy key is used over ssh: give source.repo as "
                                                       "ssh://git@host/path or git@host:path")
            elif server[0] != "github.com" and not source.known_hosts:
                self.fail(f"{spath}.source.knownHosts", f"required with a deploy key: the host keys of {server[0]} "
                                                        f"(`ssh-keyscan -p {server[1]} {server[0]}`, checked with "
                                                        "the server's own), pinned for the clone")

    def check_compose(self, spath: str, service: Service, system: System) -> None:
        """Settings that only containers have, and loopback URLs that inside a container lead nowhere."""
        if service.runtime != "compose":
            for key, given in (("build", service.build), ("containerPort", service.container_port),
                               ("health.command", service.health.command if service.health else None)):
                if given is not None:
                    self.fail(f"{spath}.{key}", "only compose services have it")
            return
        ports = {s.port: name for name, s in (system.services or {}).items()
                 if s is not None and s.host == service.host and s.port is not None}
        for key, value in (service.env or {}).items():
            if not isinstance(value, str):
                continue
            found = re.search(r"://(127\.0\.0\.1|localhost|\[::1\])(?::(\d+))?", value)
            if found is None:
                continue
            target = ports.get(int(found.group(2))) if found.group(2) else None
            use = f"http://{target}:{found.group(2)}" if target else "http://<service>:<port>"
            self.fail(f"{spath}.env.{key}", f"inside a container {found.group(1)} is the container itself: use "
                                            f"{use} (every service of the host is reachable from its containers "
                                            "by name, on its port)")

    def check_docker(self, hpath: str, hname: str, host, system: System) -> None:
        docker = host.docker
        if docker is None:
            return
        if docker.subnet is not None and not formats.cidr(docker.subnet):
            network = ipaddress.ip_network(docker.subnet)
            if network.version != 4 or not 16 <= network.prefixlen <= 28 or network.is_loopback:
                self.fail(f"{hpath}.docker.subnet", "an IPv4 subnet from /16 to /28, not loopback")
        composed = any(s is not None and s.host == hname and s.runtime == "compose"
                       for s in (system.services or {}).values())
        image = getattr(host, "image", None) or ""
        if composed and docker.packages == "distribution" and image.startswith("debian-12"):
            self.fail(f"{hpath}.docker.packages", "Debian 12's archive has no Compose v2 package: set "
                                                  "docker.packages: docker (Docker's apt repository)")

    def check_limits(self, spath: str, service: Service, host) -> None:
        limits = service.limits
        if limits is None:
            return
        if limits.read_timeout is not None and not 1 <= limits.read_timeout <= 3600:
            self.fail(f"{spath}.limits.readTimeout", "between 1 and 3600 seconds")
        rate = limits.rate_limit
        if rate is None:
            return
        self.within(f"{spath}.limits.rateLimit.requests", rate.requests, 1, 1_000_000)
        self.within(f"{spath}.limits.rateLimit.window", rate.window, 1, 86400, " seconds")
        proxy = host.proxy if host is not None else None
        if proxy is not None and proxy.kind == "caddy":
            # Caddy's rate limiter is a plugin (caddy-ratelimit) that the distribution packages do not have.
            self.fail(f"{spath}.limits.rateLimit", "Caddy has no rate limiter without a custom build "
                                                   "(caddy-ratelimit): use nginx on this host, or leave it out")

    def check_watchdog(self, spath: str, service: Service) -> None:
        watchdog = service.watchdog
        if watchdog is None or not watchdog.enabled:
            return
        for name, high, unit in (("interval", 3600, " seconds"), ("failures", 100, ""), ("restarts", 100, "")):
            self.within(f"{spath}.watchdog.{name}", getattr(watchdog, name), 1, high, unit)
        if watchdog.paths and (service.port is None or service.health is None):
            self.fail(f"{spath}.watchdog.paths", "only a service with a port and a health check is watched")

    def check_replaces(self, spath: str, service: Service) -> None:
        replaces = service.replaces
        if replaces is None:
            return
        for i, unit in enumerate(replaces.systemd or ()):
            problem = unit is not None and protected_unit(unit)
            if problem:
                self.fail(f"{spath}.replaces.systemd[{i}]", f"'{unit}' is {problem}, never a service's old process: "
                                                            "name the unit the old service runs as")
        for i, name in enumerate(replaces.pm2 or ()):
            if name is not None and (name == "all" or name.isdigit()):
                # `pm2 delete all` deletes every process of that PM2, and a number is a process's ID there.
                what = "every process" if name == "all" else "a process ID"
                self.fail(f"{spath}.replaces.pm2[{i}]", f"PM2 reads '{name}' as {what}: name the old process "
                                                        "(`pm2 list` shows the names)")
        home = replaces.pm2_home and posixpath.normpath(replaces.pm2_home)
        var = Paths().var
        if home and host_paths.overlaps(home, (var,)):
            # Each stackyard service's PM2 runs there (<var>/<service>/pm2): `pm2 delete` and `pm2 save` as
            # its owner would take another service's processes, not the old ones.
            self.fail(f"{spath}.replaces.pm2Home", f"{var} is stackyard's own: its services' PM2 homes are "
                                                   "there; name the PM2 home the old processes run under")
        if replaces.listen is None:
            return
        if service.port is None:
            self.fail(f"{spath}.replaces.listen", "only a service with a port takes over a port's traffic")
        elif replaces.listen in service_ports(service):
            # The proxy must listen on the service port while the old process still holds it.
            self.fail(f"{spath}.replaces.listen", f"the old process holds port {replaces.listen}, which this "
                                                  "service needs (its port, and 1000 and 2000 above): give the "
                                                  "service another port")

    def check_renames(self, path: str, entries: dict) -> None:
        """A former name can stand for one entry only, and never for one that is still there: Pulumi could
        not tell whose state it is."""
        claimed: dict[str, str] = {}
        for name, entry in entries.items():
            for i, old in enumerate(getattr(entry, "formerly", None) or ()):
                fpath = f"{path}.{name}.formerly[{i}]"
                if old is None:
                    continue
                if old in entries:
                    self.fail(fpath, f"'{old}' is a name in use here, so its resources cannot also be this one's: "
                                     "rename in two steps, or move each resource's state by hand "
                                     "(`pulumi state rename <urn> <new name>`)")
                elif old in claimed:
                    self.fail(fpath, f"'{old}' is also a former name of {claimed[old]}: one entry only can take its "
                                     "state (`pulumi state rename <urn> <new name>` moves a resource by hand)")
                else:
                    claimed[old] = f"{path}.{name}"

    # --- across systems -----------------------------------------------------------------

    def check_global(self, systems: dict[str, System | None]) -> None:
        owners: dict[tuple, str] = {}

        def claim(key: tuple, path: str, what: str) -> None:
            if key in owners:
                self.fail(path, f"{what} is already used at {owners[key]}")
            else:
                owners[key] = path

        self.check_resource_names(systems)
        self.check_frontend_domains(systems)
        self.check_hostname_hosts(systems)
        for sname, system in systems.items():
            if system is None:
                continue
            for hname, host in (system.hosts or {}).items():
                if isinstance(host, ExistingHost) and host.address:
                    # One address in one spelling (2001:DB8::10 is 2001:db8::10).
                    claim(("address", ip_text(host.address) or host.address.lower()),
                          f"systems.{sname}.hosts.{hname}.address", f"address {host.address}")
            zones = (system.dns.zones if system.dns else None) or {}
            for i, record in enumerate((system.dns.records if system.dns else None) or ()):
                zone = zones.get(record.zone) if record is not None else None
                if zone is None or not fqdn(record):
                    continue
                # Records of one name belong to one system: two systems writing the same name fight.
                rpath = f"systems.{sname}.dns.records[{i}]"
                first = owners.setdefault(("record", zone.zone_id, fqdn(record)), rpath)
                if not first.startswith(f"systems.{sname}."):
                    self.fail(rpath, f"'{fqdn(record)}' is also managed at {first}")
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

    def check_frontend_domains(self, systems: dict[str, System | None]) -> None:
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
                self.fail(path, f"{name} is served by the frontend at {domains[name]}: one of the two goes")

        for sname, system in systems.items():
            if system is None:
                continue
            for i, record in enumerate((system.dns.records if system.dns else None) or ()):
                if record is not None and record.type in ("A", "AAAA", "CNAME"):
                    clash(fqdn(record), f"systems.{sname}.dns.records[{i}]")
            for spath, service in self.named(f"systems.{sname}.services", "service", system.services):
                for i, hostname in enumerate(service.hostnames or ()):
                    clash(hostname, f"{spath}.hostnames[{i}]")
            for hname, host in (system.hosts or {}).items():
                for hostname in ((host.proxy.static if host and host.proxy else None) or {}):
                    clash(hostname, f"systems.{sname}.hosts.{hname}.proxy.static.{hostname}")

    def check_hostname_hosts(self, systems: dict[str, System | None]) -> None:
        """A hostname's DNS points at one server, and only the proxy it points at can get its certificate
        (the CA asks that server) and be reached: a hostname served by two hosts, or one the stack's own
        A/AAAA records point at another host (the service moved, its records did not), is served by neither."""
        known: dict[str, str] = {}  # address -> the host that has it
        # The hosts stackyard runs: a record at one of them says where the hostname goes. A server it does not
        # provision may be a front passing TLS through to the host that serves the hostname.
        run: set[str] = set()
        for sname, system in systems.items():
            for hname, host in ((system.hosts if system else None) or {}).items():
                if host is not None and (isinstance(host, CreatedHost) or host.provision):
                    run.add(f"systems.{sname}.hosts.{hname}")
                adopt = getattr(host, "adopt", None)
                for address in ((host.address, host.ipv6) if isinstance(host, ExistingHost)
                                else (getattr(adopt, "reserved_ip", None),)):
                    if address and ip_text(address):
                        known.setdefault(ip_text(address), f"systems.{sname}.hosts.{hname}")
        pointed: dict[str, list[tuple[str, str]]] = defaultdict(list)  # hostname -> (record, the host it names)
        served: dict[str, list[tuple[str, str]]] = defaultdict(list)  # hostname -> (where, the host serving it)
        for sname, system in systems.items():
            if system is None:
                continue
            hosts = system.hosts or {}
            for i, record in enumerate((system.dns.records if system.dns else None) or ()):
                if record is None or record.type not in ("A", "AAAA") or not fqdn(record):
                    continue
                target = (f"systems.{sname}.hosts.{record.host}" if record.host in hosts else None) \
                    if record.host is not None else known.get(ip_text(record.content or ""))
                if target is not None:
                    pointed[fqdn(record)].append((f"systems.{sname}.dns.records[{i}]", target))
            for spath, service in self.named(f"systems.{sname}.services", "service", system.services):
                for i, hostname in enumerate(service.hostnames or ()):
                    if hostname is not None and service.host in hosts:
                        served[hostname].append((f"{spath}.hostnames[{i}]", f"systems.{sname}.hosts.{service.host}"))
            for hname, host in hosts.items():
                for hostname in ((host.proxy.static if host is not None and host.proxy else None) or {}):
                    served[hostname].append((f"systems.{sname}.hosts.{hname}.proxy.static.{hostname}",
                                             f"systems.{sname}.hosts.{hname}"))
        for hostname, uses in served.items():
            for where, hpath in uses:
                other = next((w for w, h in uses if h != hpath), None)
                if other is not None:
                    self.fail(where, f"{hostname} is also served by {other}, on another host: its DNS points at "
                                     "one server, and the other could neither get its certificate nor be "
                                     "reached; serve it on one host")
                for rpath, target in pointed.get(hostname, ()):
                    if target != hpath and target in run:
                        self.fail(where, f"{hostname} is served on {hpath}, but {rpath} points it at {target}: "
                                         "its certificate could never be issued, and neither host would serve it; "
                                         "point the record at this host, or serve the hostname there")

    def check_resource_names(self, systems: dict[str, System | None]) -> None:
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
                    self.fail(path, f"its resources are named '{name}-...', and those of {clash[1]} "
                                    f"'{clash[0]}-...': Pulumi would take one's for the other's (a resource's "
                                    "name does not include its system); rename one of them")
                stems.append((name, sname, path))


def reserved_ports(host) -> dict[int, str]:
    """The ports a host keeps for itself (no service's): SSH's, on the host's own SSH port too, and the
    proxy's and the databases'."""
    ssh = host.access.ssh_port if host is not None and host.access else 22
    return {**RESERVED_PORTS, ssh: "SSH"}


def protected_unit(unit: str) -> str | None:
    """What a systemd unit is, when stopping and disabling it would stop the system, stackyard, or what
    stackyard runs (the proxy, Docker, the databases, SSH); else None."""
    base, _, suffix = unit.rpartition(".") if "." in unit else (unit, "", "service")
    if suffix in ("target", "slice", "scope", "mount", "automount", "swap", "device"):
        return f"a systemd {suffix}, part of the system"
    base = base.split("@", 1)[0]
    if base.startswith(SYSTEM_UNIT_PREFIXES) or base in SYSTEM_UNITS:
        return "a unit the system or stackyard needs"
    return None


def ssh_server(repo: str) -> tuple[str, int] | None:
    """(host, port) of an ssh git URL (ssh://[user@]host[:port]/path or user@host:path), else None."""
    found = re.fullmatch(r"ssh://(?:[^@/]+@)?([^:/]+)(?::(\d+))?/.*", repo)
    if found:
        return found.group(1), int(found.group(2) or 22)
    found = re.fullmatch(r"[^@/:]+@([^:/]+):.*", repo)
    return (found.group(1), 22) if found else None


def service_name(spath: str) -> str:
    return spath.rsplit(".", 1)[-1]


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


def service_ports(service: Service) -> list[int]:
    """The stable port and every slot port a service holds on its host."""
    if service.port is None:
        return []
    count = max(1, min(service.instances or 1, MAX_INSTANCES))
    return [service.port] + [service.port + offset + i for offset in SLOT_OFFSET.values() for i in range(count)]

