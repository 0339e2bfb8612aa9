"""Rules for hosts: their clouds, keys, SSH access, adoption, paths, accessories and Docker."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from .. import formats, host_paths
from ..host_layout import ACCESSORY_PORTS, WEB_PORTS, Paths
from ..parse import camel
from ..topology import Acme, CreatedHost, ExistingHost, System
from .findings import MAX_KEEP, Findings

"""The port each accessory's server listens on (on loopback)."""


def check_hosts(rules: Findings, path: str, system: System) -> None:
    hosts = system.hosts or {}
    for name in hosts:
        # A host's provisioning resources are named <system>-<host>-setup-<step>: a host named
        # <other>-setup... would have names that begin the same way (renames.former_names could not tell
        # whose a resource is, and two could collide).
        other = next((o for o in hosts if name == f"{o}-setup" or name.startswith(f"{o}-setup-")), None)
        if other is not None:
            rules.fail(f"{path}.hosts.{name}", f"host '{other}''s resources are named {other}-setup-...: a "
                                              f"host named '{name}' would share their names; call it "
                                              "something else")
    for hpath, host in rules.named(f"{path}.hosts", "host", system.hosts):
        if host.access is not None and host.access.private_key is not None:
            rules.check_value(f"{hpath}.access.privateKey", system, host.access.private_key)
        check_host_key(rules, hpath, host)
        ssh_port = host.access.ssh_port if host.access else 22
        seen: set[int] = set()
        for i, port in enumerate(host.open_ports or ()):
            if port is None:
                continue
            if port == ssh_port:
                rules.fail(f"{hpath}.openPorts[{i}]", f"port {port} is the SSH port; it is always open "
                                                     "to access.sshAllowFrom")
            elif port in seen:
                rules.fail(f"{hpath}.openPorts[{i}]", f"port {port} is listed twice")
            seen.add(port)
        if isinstance(host, CreatedHost):
            if not (rules.settings.ssh_keys or ()) and not (host.ssh_keys or ()):
                rules.fail(f"{hpath}.sshKeys", "a created host needs at least one SSH public key "
                                              "(here or in stackyard:sshKeys)")
            missing = [port for port in WEB_PORTS if port not in seen]
            if host.proxy is not None and host.provision and host.open_ports is not None and missing:
                # A list is taken as written, and the cloud firewall drops what it does not hold: the proxy
                # would start, its health checks pass over loopback, and nobody could reach it, nor could
                # the CA. Left out, the firewall opens 80 and 443 itself (public_ports).
                rules.fail(f"{hpath}.openPorts", f"the host's proxy serves on 80 and 443, and the cloud firewall "
                                                f"lets in only the ports listed here: add "
                                                f"{' and '.join(map(str, missing))}, or leave openPorts out")
            host.check(rules, hpath)


def check_host_setup(rules: Findings, path: str, system: System) -> None:
    """What stackyard sets up on each host it provisions: Docker, backups, accessories, paths, the proxy."""
    hosts = system.hosts or {}
    for hname, host in hosts.items():
        if host is not None and not getattr(host, "provision", True):
            # Nothing is provisioned on it: what stackyard installed there leaves the state, and an
            # accessory's server is stopped, while the stack still lists it.
            for key, value in (("accessories", host.accessories), ("proxy", host.proxy),
                               ("backups", host.backups)):
                if value:
                    rules.fail(f"{path}.hosts.{hname}.{key}",
                              "the host has provision: false, so this never takes effect, and what stackyard "
                              "set up for it would be removed (an accessory's server stopped): take it out "
                              "of the stack to remove it, or provision the host")
        if host is None or not getattr(host, "provision", False):
            continue
        if host.access is None or host.access.private_key is None:
            rules.fail(f"{path}.hosts.{hname}.access.privateKey",
                      "required: stackyard provisions this host over SSH and needs the key it logs in with "
                      "(or set provision: false)")
        check_docker(rules, f"{path}.hosts.{hname}", hname, host, system)
        if host.backups is not None and host.backups.keep < 1:
            rules.fail(f"{path}.hosts.{hname}.backups.keep", "keep at least one dump")
        elif host.backups is not None:
            rules.within(f"{path}.hosts.{hname}.backups.keep", host.backups.keep, 1, MAX_KEEP)
        offsite = host.backups.offsite if host.backups is not None else None
        if offsite is not None:
            opath = f"{path}.hosts.{hname}.backups.offsite"
            for name in ("access_key", "secret_key", "password"):
                if getattr(offsite, name) is not None:
                    rules.check_value(f"{opath}.{camel(name)}", system, getattr(offsite, name))
            if offsite.repository is not None and not offsite.repository.startswith("s3:"):
                rules.fail(f"{opath}.repository", "an S3 repository: s3:https://<endpoint>/<bucket>[/<path>]")
            if offsite.keep is not None and offsite.keep < 1:
                rules.fail(f"{opath}.keep", "keep at least one copy")
            else:
                rules.within(f"{opath}.keep", offsite.keep, 1, MAX_KEEP)
        check_accessories(rules, f"{path}.hosts.{hname}", system, host)
        check_host_paths(rules, f"{path}.hosts.{hname}", host, system)
        if host.proxy is not None and host.proxy.tls == "internal" and host.proxy.acme != Acme():
            rules.fail(f"{path}.hosts.{hname}.proxy.acme",
                      "tls: internal uses the host's own CA: acme is for tls: letsencrypt")
        elif host.proxy is not None and host.proxy.acme is not None and host.proxy.acme.ca_root and \
                formats.lets_encrypt(host.proxy.acme.directory):
            # Caddy's acme_ca_root replaces the public roots for that directory: its renewals would fail.
            rules.fail(f"{path}.hosts.{hname}.proxy.acme.caRoot",
                      "Let's Encrypt's directories are publicly trusted: caRoot is for a private CA, "
                      "whose https URL directory gives")
        proxy = host.proxy
        if proxy is not None:
            for i, site in enumerate(proxy.replaces or ()):
                if site is None:
                    continue
                if proxy.kind == "caddy" and site != "Caddyfile":
                    rules.fail(f"{path}.hosts.{hname}.proxy.replaces[{i}]",
                              "a Caddy has one site file: replaces: [Caddyfile]")
                elif proxy.kind == "nginx" and site.startswith("stackyard"):
                    # The sites it names are disabled in the reload that enables stackyard's own,
                    # sites-available/stackyard.conf and conf.d/stackyard.conf: every site would go offline.
                    rules.fail(f"{path}.hosts.{hname}.proxy.replaces[{i}]",
                              f"'{site}' is stackyard's own (its site is stackyard.conf): name the old site's "
                              "file in sites-enabled or conf.d")



def check_host_key(rules: Findings, hpath: str, host) -> None:
    """A server that runs already must have its host key pinned; one stackyard creates gets its own,
    unless a key is given (a server adopted once, whose `adopt:` was removed since, keeps its key)."""
    access = host.access
    if access is None:
        return
    running = isinstance(host, ExistingHost) or getattr(host, "adopt", None) is not None
    if running and host.provision and not access.host_key:
        address = host.address if isinstance(host, ExistingHost) else "<its address>"
        rules.fail(f"{hpath}.access.hostKey", "required: the server's ed25519 host key, pinned for every "
                                             f"connection (`scripts/host-key {address}` prints it; compare its "
                                             "fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` "
                                             "on the server's console)")


def check_ssh_access(rules: Findings, systems: Mapping[str, System | None]) -> None:
    """stackyard itself provisions over SSH, through the cloud firewall and ufw, which let in only the
    networks of a host's access.sshAllowFrom (or the stack's): an empty list, or one without a network of
    the family stackyard dials the host over, shuts stackyard out of the server it is changing (an
    existing server's ufw is its only way back)."""
    stack = rules.settings.ssh_allow_from
    fallen_back: list[str] = []
    for sname, system in systems.items():
        for hpath, host in rules.named(f"systems.{sname}.hosts", "host", (system.hosts if system else None)):
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
                rules.fail(lpath, f"stackyard itself connects over SSH to {hpath}, at {dialled}, and there "
                                 f"is no IPv{family} network here: list at least the IPv{family} network it "
                                 "connects from")
    if fallen_back:
        rules.fail("sshAllowFrom", f"no network may reach SSH on {', '.join(fallen_back)} (their own "
                                  "access.sshAllowFrom is empty, and so is this): stackyard itself connects "
                                  "over SSH: list at least the network it connects from")


def check_ssh_key_adoption(rules: Findings) -> None:
    """Every adopted key must be a key stackyard would create for that cloud's hosts."""
    listed = {key.strip() for key in rules.settings.ssh_keys or () if key}
    for system in (rules.settings.systems or {}).values():
        for host in ((system.hosts if system else None) or {}).values():
            if isinstance(host, CreatedHost):
                listed |= {key.strip() for key in host.ssh_keys or () if key}
    for provider, keys in (rules.settings.adopt_ssh_keys or {}).items():
        for key, key_id in (keys or {}).items():
            path = f"adoptSshKeys.{provider}.{key[:24]}..."
            if key.strip() not in listed:
                rules.fail(path, "not a key of stackyard:sshKeys or any host's sshKeys")
            message = formats.numeric_id(str(key_id))
            if message:
                rules.fail(path, message)


def check_host_paths(rules: Findings, hpath: str, host, system: System) -> None:
    """Directories root serves or writes from: see host_paths."""
    service_dirs = [Paths().app(sname) for sname in system.services or {}]
    directory = host.backups.directory if host.backups is not None else None
    for name, root in sorted(((host.proxy.static if host.proxy else None) or {}).items()):
        problem = root is not None and host_paths.static_root_problem(root, service_dirs, directory)
        if problem:
            rules.fail(f"{hpath}.proxy.static.{name}", problem)
    problem = directory is not None and host_paths.backup_directory_problem(directory, service_dirs)
    if problem:
        rules.fail(f"{hpath}.backups.directory", problem)
    named: dict[str, str] = {}
    for i, path in enumerate((host.backups.paths if host.backups is not None else None) or ()):
        if path is None:
            continue
        problem = directory is not None and host_paths.backup_path_problem(path, directory)
        name = host_paths.archive_name(path)
        if problem:
            rules.fail(f"{hpath}.backups.paths[{i}]", problem)
        elif name in named:
            # Both would be written to <name>.tar.gz, the second over the first.
            rules.fail(f"{hpath}.backups.paths[{i}]", f"'{path}' and '{named[name]}' are both archived as "
                                                     f"{name}.tar.gz: the second would overwrite the first; "
                                                     "name one directory that holds both, or rename one")
        else:
            named[name] = path


def check_accessories(rules: Findings, hpath: str, system: System, host) -> None:
    """An existing server's password cannot be generated: it must be named wherever it is needed."""
    for kind, accessory in (host.accessories or {}).items():
        apath = f"{hpath}.accessories.{kind}"
        if accessory is None:
            continue
        if accessory.password is not None:
            rules.check_value(f"{apath}.password", system, accessory.password)
        if accessory.existing and accessory.password is None and accessory.user:
            rules.fail(f"{apath}.password", f"required: the password of the existing user '{accessory.user}' "
                                           "(stackyard never changes an existing server's password)")
        if kind == "redis" and accessory.user:
            rules.fail(f"{apath}.user", "Redis has no users here: its password is the server's requirepass")
    # sshd listens on every address: a database (on loopback) or the proxy could not bind the same port.
    ssh_port = host.access.ssh_port if host.access is not None else None
    taken = {port: f"the {kind} accessory's" for kind, port in ACCESSORY_PORTS.items()
             if kind in (host.accessories or {})}
    if host.proxy is not None:
        taken.update({80: "the proxy's", 443: "the proxy's"})
    if ssh_port in taken:
        rules.fail(f"{hpath}.access.sshPort", f"port {ssh_port} is {taken[ssh_port]}: pick another SSH port")


def check_docker(rules: Findings, hpath: str, hname: str, host, system: System) -> None:
    docker = host.docker
    if docker is None:
        return
    if docker.subnet is not None and not formats.cidr(docker.subnet):
        network = ipaddress.ip_network(docker.subnet)
        if network.version != 4 or not 16 <= network.prefixlen <= 28 or network.is_loopback:
            rules.fail(f"{hpath}.docker.subnet", "an IPv4 subnet from /16 to /28, not loopback")
    composed = any(s is not None and s.host == hname and getattr(rules.runtimes.get(s.runtime), "uses_docker", False)
                   for s in (system.services or {}).values())
    image = getattr(host, "image", None) or ""
    if composed and docker.packages == "distribution" and image.startswith("debian-12"):
        rules.fail(f"{hpath}.docker.packages", "Debian 12's archive has no Compose v2 package: set "
                                              "docker.packages: docker (Docker's apt repository)")
