"""Rules for services: names, ports, sources, builds, files, env, logs, limits, watchdogs and what they replace."""

from __future__ import annotations

import posixpath
import re

from .. import host_paths
from ..host_layout import MAX_INSTANCES, SLOT_SPAN, Paths, held_ports
from ..topology import Service, System
from .findings import MAX_KEEP, Findings, RuntimeRules

RESERVED_SERVICE_NAMES = frozenset({"claims", "watchdog", "upstreams", "accessories", "backup", "replaced",
                                    "self-signed", "redis", "owner"})
"""Directories and files stackyard keeps beside the services' own (/var/lib/stackyard/<name>,
/etc/stackyard/<name>: /etc/stackyard/owner is the stack's mark on the server)."""

SYSTEM_LOG_NAMES = frozenset({
    "nginx", "caddy", "redis", "mysql", "mariadb", "postgresql", "letsencrypt", "apt", "journal", "private",
    "installer", "unattended-upgrades", "dist-upgrade", "docker", "cloud-init", "sysstat", "runit", "restic",
    "landscape", "fail2ban"})
"""Directories under /var/log that packages stackyard installs (or the distribution) keep and write as
root. A service's log directory is /var/log/<name>, its user's: a service so named, on a host that only
later gets that package, would own the directory root's rotation and the package's scripts write in."""

MAX_SERVICE_NAME = 28


# systemd units a service's `replaces` may never stop and disable: the system's own, SSH, and what stackyard
# installs and runs (the proxies, Docker, the databases, the firewall, its own units, stackyard-*).
SYSTEM_UNITS = frozenset({
    "nginx", "caddy", "ssh", "sshd", "docker", "containerd", "cron", "crond", "mariadb", "mysql", "redis",
    "redis-server", "postgresql", "ufw", "dbus", "dbus-broker", "getty", "serial-getty", "console-getty", "user",
    "cloud-init", "cloud-config", "cloud-final", "networking", "unattended-upgrades", "rsyslog", "polkit",
    "snapd", "chrony", "ntp", "apparmor", "multipathd", "fail2ban", "emergency", "rescue",
    # Renewals of nginx's certificates; the network and the ways in (stopping ifup@<nic> runs ifdown).
    "certbot", "ifup", "NetworkManager", "netfilter-persistent", "tailscaled", "wg-quick", "openvpn",
    # Log rotation (stackyard's own among it), the timers that start unattended upgrades, other firewalls
    # (nftables' stop flushes every rule, ufw's with them).
    "logrotate", "apt-daily", "apt-daily-upgrade", "nftables", "firewalld", "iptables",
    # Other names of the same units (Debian's aliases): mysqld is MariaDB, syslog is rsyslog, udev is
    # systemd-udevd, autovt@ is getty@; and what logins and sshd's first start need.
    "mysqld", "syslog", "postgresql-common", "udev", "autovt", "user-runtime-dir", "sshd-keygen", "kmod",
    "systemd-udevd"})

SYSTEM_UNIT_PREFIXES = ("systemd-", "stackyard-", "cloud-init", "dbus-org.")

RESERVED_PORTS = {22: "SSH", 80: "HTTP", 443: "HTTPS", 3306: "MySQL", 5432: "PostgreSQL", 6379: "Redis"}



def check_services(rules: Findings, path: str, system: System) -> None:
    hosts = system.hosts or {}
    taken: dict[tuple[str | None, int], str] = {}  # (host, port): a service whose host was not read has None
    for spath, service in rules.named(f"{path}.services", "service", system.services):
        name = service_name(spath)
        if name in RESERVED_SERVICE_NAMES:
            # Its directories would be stackyard's own (/var/lib/stackyard/claims, /etc/stackyard/upstreams).
            rules.fail(spath, f"'{name}' is a name stackyard keeps for itself on the host: call the service "
                             "something else")
        if name in SYSTEM_LOG_NAMES:
            rules.fail(spath, f"'{name}' is the name of a system log directory (/var/log/{name}), which "
                             "would become the service's: call the service something else")
        if len(name) > MAX_SERVICE_NAME:
            # svc-<name> is cut at 32 characters (Linux's limit): two long names would share one user.
            rules.fail(spath, f"a service's name is at most {MAX_SERVICE_NAME} characters (its user, "
                             f"svc-<name>, at most 32)")
        host = hosts.get(service.host) if service.host else None
        if service.host is not None and service.host not in hosts:
            rules.fail(f"{spath}.host", f"no host named '{service.host}' in this system "
                                       f"(hosts: {', '.join(hosts) or 'none'})")
        if host is not None and not host.provision:
            rules.fail(f"{spath}.host", f"host '{service.host}' has provision: false, so nothing deploys to it")
        runtime = rules.runtimes.get(service.runtime)
        if runtime is None:
            rules.fail(f"{spath}.runtime", f"unknown runtime '{service.runtime}'; known: "
                                          f"{', '.join(sorted(rules.runtimes))}")
        else:
            runtime.check(rules, spath, service, system)
        if service.instances is not None and not 1 <= service.instances <= MAX_INSTANCES:
            rules.fail(f"{spath}.instances", f"must be between 1 and {MAX_INSTANCES}")
        if service.keep_releases is not None and service.keep_releases < 2:
            rules.fail(f"{spath}.keepReleases", "keep at least 2 releases, so a rollback has one to go to")
        else:
            # Each release is a whole checkout with its dependencies (a venv, node_modules).
            rules.within(f"{spath}.keepReleases", service.keep_releases, 2, 50)
        if service.health is not None:
            rules.within(f"{spath}.health.interval", service.health.interval, 1, 3600, " seconds")
            rules.within(f"{spath}.health.timeout", service.health.timeout, 1, 300, " seconds")
            rules.within(f"{spath}.health.retries", service.health.retries, 1, 100)
        if service.hostnames and service.port is None:
            rules.fail(f"{spath}.port", "required: services with hostnames need a port for the proxy to serve")
        if service.hostnames and host is not None and host.proxy is None:
            rules.fail(f"{spath}.hostnames", f"host '{service.host}' has no proxy to serve hostnames")
        if service.port is not None and service.port + SLOT_SPAN > 65535:
            rules.fail(f"{spath}.port", f"instances use ports up to port+{SLOT_SPAN}: pick a port below "
                                       f"{65535 - SLOT_SPAN}")
        reserved = reserved_ports(host)
        for port in service_ports(service):
            owner = taken.get((service.host, port))
            if port in reserved:
                rules.fail(f"{spath}.port", f"port {port} ({'instance ' if port != service.port else ''}"
                                           f"of {service.port}) is {reserved[port]}'s on host '{service.host}'")
                break
            if owner is not None:
                # Both ends are named, so the report does not depend on the order the services come in
                # (the CLI hands the program its config with keys sorted, not in stack file order).
                for here, there in ((spath, owner), (owner, spath)):
                    rules.fail(f"{here}.port", f"port {port} clashes with {there} on host '{service.host}' "
                                              "(each service holds its port and the ports 1000 and 2000 "
                                              "above it)")
                break
        for port in service_ports(service):
            taken.setdefault((service.host, port), spath)
        check_source(rules, spath, service, system)
        check_replaces(rules, spath, service)
        check_watchdog(rules, spath, service)
        check_limits(rules, spath, service, host)
        check_logs(rules, spath, service)
        check_containers(rules, spath, service, runtime)
        for key, value in (service.env or {}).items():
            rules.check_value(f"{spath}.env.{key}", system, value, service.host)
            # A worker (no port) gets no PORT from stackyard: its own is its to set.
            if runtime is not None and key in runtime.stackyard_env and not (key == "PORT" and service.port is None):
                rules.fail(f"{spath}.env.{key}", f"stackyard sets {key} for the service "
                                                f"({runtime.stackyard_env[key]}): leave it out of env")
        for name, value in (service.files or {}).items():
            fpath = f"{spath}.files.{name}"
            # Written as it is, `./a` beside `a` is two values for one file, `.` the release itself.
            normal = posixpath.normpath(name)
            inside = [other for other in service.files or {} if other.startswith(name.rstrip("/") + "/")]
            if ".." in name.split("/"):
                rules.fail(fpath, "paths may not contain '..'")
            elif normal == ".":
                rules.fail(fpath, "is the release directory itself: give a file's path, e.g. config/key.json")
            elif any(part.startswith(".stackyard.") for part in name.split("/")):
                # What a killed write leaves is named so, and each deploy removes it from the files.
                rules.fail(fpath, "names starting with '.stackyard.' are stackyard's temporary files: rename it")
            elif normal != name:
                rules.fail(fpath, f"write it as '{normal}' (no '.' parts, no doubled or trailing '/')")
            elif inside:
                rules.fail(fpath, f"is a directory of {spath}.files.{inside[0]}: one path is a file or a "
                                 "directory, never both")
            elif runtime is not None and runtime.files_in_slot and not name.startswith("/"):
                rules.fail(fpath, f"{runtime.name} files are mounted into the container: give an absolute path")
            elif runtime is not None and not runtime.files_in_slot and name.startswith("/"):
                rules.fail(fpath, "give a path relative to the release directory")
            rules.check_value(fpath, system, value, service.host)
    # An old process's port is taken over from outside stackyard, never from a service of the stack or a
    # port the host keeps for itself: its upstream would route the new hostnames to that service.
    for spath, service in rules.named(f"{path}.services", "service", system.services):
        listen = service.replaces.listen if service.replaces is not None else None
        owner = taken.get((service.host, listen)) if listen is not None else None
        if owner is not None and owner != spath:
            rules.fail(f"{spath}.replaces.listen", f"port {listen} is {owner}'s on host '{service.host}': "
                                                  "replaces.listen names a process outside the stack")
        elif listen is not None:
            reserved = reserved_ports((system.hosts or {}).get(service.host))
            if listen in reserved:
                rules.fail(f"{spath}.replaces.listen", f"port {listen} is {reserved[listen]}'s, not a service's")


def check_logs(rules: Findings, spath: str, service: Service) -> None:
    logs = service.logs
    if logs is None:
        return
    if logs.keep is not None and logs.keep < 1:
        rules.fail(f"{spath}.logs.keep", "keep at least 1 rotated file")
    else:
        rules.within(f"{spath}.logs.keep", logs.keep, 1, MAX_KEEP)
    for i, path in enumerate(logs.files or ()):
        if path is None:
            continue
        own = f"/var/log/{service_name(spath)}/"
        if not path.startswith(own) or path.endswith("/"):
            # Its directory becomes the service's (root makes it, and hands it over): only one that is
            # the service's by name, never one the system or other programs use (/etc/ssh, /root/.ssh).
            rules.fail(f"{spath}.logs.files[{i}]", f"log files live in the service's own directory, {own}..., "
                                                  f"e.g. {own}app.log")


def check_source(rules: Findings, spath: str, service: Service, system: System) -> None:
    """A deploy key is for an ssh URL, whose server's host key must be pinned (GitHub's is known)."""
    source = service.source
    if source is None or source.repo is None:
        return
    server = ssh_server(source.repo)
    if source.repo.startswith("http://"):
        rules.warn(f"{spath}.source.repo: http:// can be changed on its way to the host: use https or "
                             "ssh (a git server of your own on a private network is the one place for it)")
    if source.deploy_key is not None:
        rules.check_value(f"{spath}.source.deployKey", system, source.deploy_key)
        if server is None:
            rules.fail(f"{spath}.source.deployKey", "a deploy key is used over ssh: give source.repo as "
                                                   "ssh://git@host/path or git@host:path")
        elif server[0] != "github.com" and not source.known_hosts:
            rules.fail(f"{spath}.source.knownHosts", f"required with a deploy key: the host keys of {server[0]} "
                                                    f"(`ssh-keyscan -p {server[1]} {server[0]}`, checked with "
                                                    "the server's own), pinned for the clone")


def check_containers(rules: Findings, spath: str, service: Service, runtime: RuntimeRules | None) -> None:
    """Settings that only containers have."""
    if runtime is None or runtime.uses_docker:
        return
    for key, given in (("build", service.build), ("containerPort", service.container_port),
                       ("health.command", service.health.command if service.health else None)):
        if given is not None:
            rules.fail(f"{spath}.{key}", "only compose services have it")

def check_limits(rules: Findings, spath: str, service: Service, host) -> None:
    limits = service.limits
    if limits is None:
        return
    if limits.read_timeout is not None and not 1 <= limits.read_timeout <= 3600:
        rules.fail(f"{spath}.limits.readTimeout", "between 1 and 3600 seconds")
    rate = limits.rate_limit
    if rate is None:
        return
    rules.within(f"{spath}.limits.rateLimit.requests", rate.requests, 1, 1_000_000)
    rules.within(f"{spath}.limits.rateLimit.window", rate.window, 1, 86400, " seconds")
    proxy = host.proxy if host is not None else None
    if proxy is not None and proxy.kind == "caddy":
        # Caddy's rate limiter is a plugin (caddy-ratelimit) that the distribution packages do not have.
        rules.fail(f"{spath}.limits.rateLimit", "Caddy has no rate limiter without a custom build "
                                               "(caddy-ratelimit): use nginx on this host, or leave it out")


def check_watchdog(rules: Findings, spath: str, service: Service) -> None:
    watchdog = service.watchdog
    if watchdog is None or not watchdog.enabled:
        return
    for name, high, unit in (("interval", 3600, " seconds"), ("failures", 100, ""), ("restarts", 100, "")):
        rules.within(f"{spath}.watchdog.{name}", getattr(watchdog, name), 1, high, unit)
    if watchdog.paths and (service.port is None or service.health is None):
        rules.fail(f"{spath}.watchdog.paths", "only a service with a port and a health check is watched")


def check_replaces(rules: Findings, spath: str, service: Service) -> None:
    replaces = service.replaces
    if replaces is None:
        return
    for i, unit in enumerate(replaces.systemd or ()):
        problem = unit is not None and protected_unit(unit)
        if problem:
            rules.fail(f"{spath}.replaces.systemd[{i}]", f"'{unit}' is {problem}, never a service's old process: "
                                                        "name the unit the old service runs as")
    for i, name in enumerate(replaces.pm2 or ()):
        if name is not None and (name == "all" or name.isdigit()):
            # `pm2 delete all` deletes every process of that PM2, and a number is a process's ID there.
            what = "every process" if name == "all" else "a process ID"
            rules.fail(f"{spath}.replaces.pm2[{i}]", f"PM2 reads '{name}' as {what}: name the old process "
                                                    "(`pm2 list` shows the names)")
    home = replaces.pm2_home and posixpath.normpath(replaces.pm2_home)
    var = Paths().var
    if home and host_paths.overlaps(home, (var,)):
        # Each stackyard service's PM2 runs there (<var>/<service>/pm2): `pm2 delete` and `pm2 save` as
        # its owner would take another service's processes, not the old ones.
        rules.fail(f"{spath}.replaces.pm2Home", f"{var} is stackyard's own: its services' PM2 homes are "
                                               "there; name the PM2 home the old processes run under")
    if replaces.listen is None:
        return
    if service.port is None:
        rules.fail(f"{spath}.replaces.listen", "only a service with a port takes over a port's traffic")
    elif replaces.listen in service_ports(service):
        # The proxy must listen on the service port while the old process still holds it.
        rules.fail(f"{spath}.replaces.listen", f"the old process holds port {replaces.listen}, which this "
                                              "service needs (its port, and 1000 and 2000 above): give the "
                                              "service another port")


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


def service_ports(service: Service) -> list[int]:
    """The stable port and every slot port a service holds on its host."""
    return held_ports(service.port, service.instances)
