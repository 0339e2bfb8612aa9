"""HostProvisioning: everything stackyard does on a host over SSH, in order, as RemoteSteps.

Base setup, runtimes, accessories, the proxy and backups, then per service its user, env file,
secret files, process definitions and deploy. How each step reaches the host, and when it runs
again, is RemoteSteps' business (components/remote_steps.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from shlex import quote

import pulumi
import pulumi_command as command

from . import git_refs
from .model import Service
from .model.host_layout import COLORS, WEB_PORTS, Paths
from .model.topology import Host
from .remote_steps import RemoteSteps, digest, digest_of, triggers
from .render import provision
from .render.acme import AcmeClient
from .render.backups import BACKUP, RESTORE, Offsite, backup_cron, backup_script, restore_script
from .render.deploy import deploy_script, removal_script, staged_path
from .render.docker import DockerPlan, extra_hosts, install_script, network_script
from .render.layout import ServicePlan, plan_from_model
from .render.logs import log_setup, logrotate_config, logrotate_path
from .render.preflight import PreflightPlan, preflight_script
from .render.proxy import caddyfile, nginx_bootstrap_site, nginx_site, served_hostnames, upstream_file
from .render.runtimes import runtime_of
from .render.scripts import APT_HEADER
from .render.watchdog import watchdog_script, watchdog_units
from .values import AccessoryLogin, Resolver
from .vps_host import Connection


@dataclass(frozen=True)
class HostProvisioningArgs:
    host_name: str
    """Name of the host in its system."""
    system_name: str
    """Name of its system (the pre-flight's messages give stack file paths)."""
    spec: Host
    """The host's model entry (any provider)."""
    connection: Connection
    """The VpsHost's connection (host, port, user, private_key, host_key)."""
    services: Mapping[str, Service]
    """The system's services that run on this host."""
    resolver: Resolver
    """Resolves the services' env and file values."""
    machine: pulumi.Input[str] | None = None
    """The server's cloud ID (created hosts): a replaced server is provisioned from the start."""
    former_prefixes: tuple[str, ...] = ()
    """The names its resources had before a rename with `formerly` (stackyard-claim moves their claims)."""
    ssh_allow_from: tuple[str, ...] = provision.SSH_ANYWHERE
    """The networks SSH is open to, in ufw as in the cloud firewall."""
    paths: Paths = Paths()


class HostProvisioning(pulumi.ComponentResource):
    """Base setup, runtimes, accessories, the proxy, backups, then one deploy per service."""

    deploys: dict[str, command.remote.Command]

    def deployed_commit(self, service: str) -> pulumi.Output[str | None]:
        """The commit the service's last deploy left serving, as its output says."""
        return self.deploys[service].stdout.apply(serving_commit)

    def __init__(self, name: str, args: HostProvisioningArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stackyard:index:HostProvisioning", name, {}, opts)
        self.args = args
        self.resolver = args.resolver  # with this host's accessories once they are made
        self.name = name
        spec = args.spec
        self.remote = RemoteSteps(name, args.connection, parent=self, machine=args.machine,
                                  former_prefixes=args.former_prefixes)
        self.plans = {n: plan_from_model(n, s, args.paths) for n, s in args.services.items()}

        # Before any change: what on the host would the stack collide with? (components/render/preflight.py)
        # ufw opens what the cloud firewall opens (openPorts), and 80 and 443 on any host.
        open_ports = (*WEB_PORTS, *(spec.open_ports or ()))
        # The stack that provisions the server: another stack pointed at it (a copy of this one's config)
        # would rewrite its site, passwords and backups, and its destroy would stop this one's services.
        owner = f"{pulumi.get_project()}/{pulumi.get_stack()}"
        hostnames = served_hostnames(self.plans.values(), spec.proxy.static) if spec.proxy else []
        preflight = self.remote.step("preflight", preflight_script(PreflightPlan(
            system=args.system_name, host=args.host_name,
            accessories={kind: a.existing for kind, a in spec.accessories.items()},
            services=list(self.plans.values()), proxy=spec.proxy.kind if spec.proxy else None,
            tls=spec.proxy.tls if spec.proxy else "letsencrypt",
            proxy_replaces=list(spec.proxy.replaces) if spec.proxy else [],
            hostnames=hostnames, ufw=spec.ufw, ssh_port=spec.access.ssh_port, open_ports=open_ports,
            metadata_guard=spec.metadata_guard, owner=owner, paths=args.paths)))
        base = self.remote.step("base", provision.base_script(
            ssh_port=spec.access.ssh_port, ufw=spec.ufw, login_user=args.connection["user"],
            open_ports=open_ports, ssh_allow_from=args.ssh_allow_from, paths=args.paths,
            metadata_guard=spec.metadata_guard, owner=owner),
            after=[preflight])
        languages = {s.language for s in args.services.values()}
        runtimes = {s.runtime for s in args.services.values()}
        ready = [base]
        self.docker = DockerPlan(packages=spec.docker.packages, subnet=spec.docker.subnet)
        self.composed = any(runtime_of(name).uses_docker for name in runtimes)
        docker_steps = ""
        if self.composed:
            docker_steps = install_script(self.docker) + network_script(
                self.docker, ports=[p.port for p in self.plans.values() if p.port is not None],
                proxy=spec.proxy.kind if spec.proxy else None, ufw=spec.ufw)
        if languages - {"other"} or runtimes:
            ready = [self.remote.step("runtimes", provision.runtime_script(languages, runtimes, docker_steps),
                                      after=[base])]

        self.passwords: dict[str, pulumi.Output[str]] = {}
        if spec.accessories:
            ready = [self._accessories(spec, ready)]
        # The services of this host resolve its accessories' logins, their passwords made just now.
        logins = {kind: AccessoryLogin(self.passwords.get(kind), user=a.user, database=a.database)
                  for kind, a in spec.accessories.items()}
        self.resolver = args.resolver.knowing(accessories={args.host_name: logins})

        users = {n: self.remote.step(f"user-{n}", provision.service_user_script(p), after=ready)
                 for n, p in self.plans.items()}
        proxy_ready = list(users.values()) or ready
        if spec.proxy is not None:
            proxy_ready = [self._proxy(spec.proxy, proxy_ready)]
        if spec.backups is not None:
            self._backups(spec, ready)

        self.deploys = {}
        for service_name, plan in self.plans.items():
            self.deploys[service_name] = self._service(service_name, args.services[service_name], plan,
                                                       [users[service_name], *proxy_ready],
                                                       spec.proxy.kind if spec.proxy else None)
        # What the policy pack's advisories read (policies see component outputs, not component inputs).
        self.register_outputs({
            "path": f"systems.{args.system_name}.hosts.{args.host_name}",
            "hostnames": hostnames,
            "ufw": spec.ufw,
            "services": {n: {"port": p.port, "healthPath": p.health_path} for n, p in self.plans.items()},
            "backups": {"keep": spec.backups.keep} if spec.backups is not None else None,
        })

    def _accessories(self, spec, after: Sequence[pulumi.Resource]) -> pulumi.Resource:
        import pulumi_random as random

        writes = []
        for kind, accessory in sorted(spec.accessories.items()):
            if accessory.password is not None:
                # The stack's own: an existing server's as it is, or the one to set on a server stackyard installs.
                password = self.resolver.resolve(accessory.password)
            elif accessory.existing:
                continue  # an existing Redis without a password: there is none to know
            else:
                password = random.RandomPassword(
                    f"{self.name}-{kind}-password", length=32, special=False,
                    opts=pulumi.ResourceOptions(parent=self)).result
            self.passwords[kind] = pulumi.Output.secret(password)  # secret whatever the provider says
            writes.append(self.remote.write_secret(
                f"{kind}-password", f"{self.args.paths.etc}/accessories/{kind}.password", password, after=after))
        details = {kind: {"database": a.database, "user": a.user, "existing": a.existing}
                   for kind, a in spec.accessories.items()}
        # A new password (the RandomPassword replaced) must reach the database too, not only its file.
        step = self.remote.step("accessories", provision.accessories_script(details, self.args.paths),
                                after=writes or after,
                                secrets=[self.passwords[kind] for kind in sorted(self.passwords)])
        # Each accessory's place on the host: taken out of the stack, its server is stopped and disabled;
        # its data directory and the backups stay. An existing server is not stackyard's to stop: its place
        # stays in the stack with nothing to run, so that turning `existing` on never deletes it.
        for kind, accessory in sorted(spec.accessories.items()):
            stop = None if accessory.existing else f"systemctl disable --now {provision.ACCESSORY_UNITS[kind]}"
            self.remote.claim(f"accessory-{kind}", "accessory", kind, release=stop, after=[step])
        return step

    def _proxy(self, proxy, after: Sequence[pulumi.Resource]) -> pulumi.Resource:
        plans = list(self.plans.values())
        paths = self.args.paths
        upstreams = {paths.upstream(p.name, proxy.kind): upstream_file(p, proxy.kind)
                     for p in plans if p.port is not None}
        served = {paths.upstream(p.name, proxy.kind): p.hostnames for p in plans if p.port is not None}
        # Containers call the host's services by name at the network's address (render/docker.py).
        containers = self.docker.gateway if self.composed else None
        acme = AcmeClient.of(proxy.acme.directory, proxy.acme.ca_root)
        hostnames = served_hostnames(plans, proxy.static)
        if proxy.kind == "caddy":
            script = provision.caddy_setup_script(
                caddyfile(plans, email=proxy.email, tls=proxy.tls, security_headers=proxy.security_headers,
                          static=dict(proxy.static), paths=paths, csp=proxy.content_security_policy,
                          containers=containers, acme=acme),
                upstreams, paths, static=proxy.static.values(), served=served,
                acme=None if proxy.tls == "internal" else acme, hostnames=hostnames)
        else:
            script = provision.nginx_setup_script(
                hostnames, tls=proxy.tls, email=proxy.email,
                site=nginx_site(plans, tls=proxy.tls, security_headers=proxy.security_headers,
                                static=dict(proxy.static), paths=paths, csp=proxy.content_security_policy,
                                containers=containers),
                bootstrap=nginx_bootstrap_site(hostnames, paths), upstreams=upstreams,
                replaces=list(proxy.replaces), paths=paths, static=proxy.static.values(), served=served,
                acme=acme)
        step = self.remote.step("proxy", script, after=after)
        if proxy.tls != "internal" and hostnames:
            # Not in the deploys' way (provision.certificates_script): they depend on the proxy step alone.
            self.remote.step("certificates", provision.certificates_script(
                hostnames, caddy=proxy.kind == "caddy", email=proxy.email, acme=acme, paths=paths), after=[step])
        return step

    def _backups(self, spec, after: Sequence[pulumi.Resource]) -> pulumi.Resource:
        backups = spec.backups
        offsite = None
        writes = []
        if backups.offsite is not None:
            offsite = Offsite(repository=backups.offsite.repository, keep=backups.offsite.keep or backups.keep,
                              secrets=f"{self.args.paths.etc}/backup")
            # restic's password and the S3 keys: files only root reads, written over stdin.
            for name, value in (("restic.password", backups.offsite.password),
                                ("s3-access-key", backups.offsite.access_key),
                                ("s3-secret-key", backups.offsite.secret_key)):
                writes.append(self.remote.write_secret(f"backup-{name.replace('.', '-')}",
                                                       f"{offsite.secrets}/{name}",
                                                       self.resolver.resolve(value), after=after))
        kinds = list(spec.accessories)
        install = provision.install_files({
            BACKUP: (backup_script(keep=backups.keep, directory=backups.directory, paths_to_archive=backups.paths,
                                   accessories=kinds, etc=self.args.paths.etc, offsite=offsite), "0700"),
            RESTORE: (restore_script(directory=backups.directory, accessories=kinds, offsite=offsite), "0700"),
            "/etc/cron.d/stackyard-backup": (backup_cron(backups.schedule), "0644"),
        })
        if offsite is not None:
            install = APT_HEADER + provision.APT + "apt_install restic\n" + install
        return self.remote.step("backups", install, after=[*after, *writes])

    # --- services -------------------------------------------------------------------------

    def _service(self, name: str, service: Service, plan: ServicePlan, after: Sequence[pulumi.Resource],
                 proxy: str | None) -> command.remote.Command:
        resolver = self.resolver
        paths = self.args.paths
        host = self.args.host_name
        env = {key: resolver.resolve(value, host=host) for key, value in service.env.items()}
        runtime = runtime_of(plan.runtime)
        env_text = (pulumi.Output.all(**env).apply(runtime.env_file) if env else runtime.env_file({}))
        # The env file as the stack wants it: root's alone. The deploy copies it into the slot it starts,
        # readable there by whoever reads it (systemd and Docker as root, PM2 as the service's group).
        # Secret files: root's, read through the service's group (its build copies them into the release as
        # its user; a container gets the group, whatever USER its image runs as). Never the user's own: root
        # writes them, and must never write where the service's user could plant a link.
        file_readers = {"group": plan.user, "mode": "0640"}
        secrets = [self.remote.write_secret(f"{name}-env", paths.env_file(name), env_text, after=after)]
        if plan.release:
            # The release phase reads the env as systemd does, whatever the runtime's own file's form.
            systemd = runtime_of("systemd")
            release_env = pulumi.Output.all(**env).apply(systemd.env_file) if env else systemd.env_file({})
            secrets.append(self.remote.write_secret(f"{name}-release-env", paths.release_env_file(name),
                                                    release_env, after=after))
        if service.source.deploy_key is not None:
            # The deploy's git reads it as root: 0600, root's, in a root-owned directory.
            secrets.append(self.remote.write_secret(f"{name}-deploy-key", paths.deploy_key(name),
                                                    pulumi.Output.from_input(resolver.resolve(
                                                        service.source.deploy_key)).apply(ending_in_newline),
                                                    after=after))
        file_values = []
        for relative, value in sorted(service.files.items()):
            file_values.append(resolver.resolve(value, host=host))
            secrets.append(self.remote.write_secret(f"{name}-file-{digest(relative)[:8]}",
                                                    paths.secret_file(name, relative), file_values[-1],
                                                    after=after, **file_readers))
        hosts = extra_hosts(list(self.plans.values()), self.docker) if self.composed else []
        definitions = service_definitions(plan, service, paths, hosts=hosts)
        rotation = logrotate_config(plan)
        logs = {logrotate_path(plan): (rotation, "0644")} if rotation else {}
        known = {paths.known_hosts(name): ("".join(f"{line}\n" for line in plan.known_hosts), "0644")
                 } if plan.known_hosts else {}
        install = provision.install_files({**definitions, **watchdog_files(plan), **logs, **known,
                                           f"{paths.app(name)}/deploy": (deploy_script(plan, proxy), "0755"),
                                           f"{paths.app(name)}/remove": (removal_script(plan, proxy), "0700")})
        install += watchdog_switch(plan) + log_setup(plan)
        setup = self.remote.step(f"{name}-setup", install, after=after)
        # The service's place on the host: created once, deleted only when the service leaves the stack
        # (or the stack is destroyed), which stops it there. Its inputs never change with a deploy, so a
        # deploy can never run its removal.
        # Not per machine: replacing it would run the old one's removal, through a kept IP on the new server.
        self.remote.claim(f"{name}-service", "service", name, release=f"{paths.app(name)}/remove", after=[setup])
        # The deploy runs again when the commit, the process definitions, the env file or a secret file
        # change, or a file's path (a file renamed, its content the same, was written under its new name and
        # never reached a release); the script itself restarts the release only if something changed.
        target = deploy_target(name, service)
        paths_of_files = [digest("\n".join(sorted(service.files)))] if service.files else []
        return self.remote.run(f"{name}-deploy", f"{self.remote.sudo}{paths.app(name)}/deploy {quote(target)}",
                               triggers=triggers(target, digest(install), digest_of(env_text),
                                                 *map(digest_of, file_values), *paths_of_files),
                               after=[setup, *secrets])


def ending_in_newline(key: str) -> str:
    """A private key as OpenSSH reads it: a pasted secret often loses its last newline."""
    return key if key.endswith("\n") else key + "\n"


def deploy_target(name: str, service: Service) -> str:
    """The commit the service's ref names now (so a moved branch deploys again), or the ref itself when
    its repository cannot be asked from here, with a warning saying so."""
    try:
        return git_refs.resolve(service.source.repo, service.source.ref)
    except git_refs.Unresolved as why:
        pulumi.log.warn(f"service {name}: could not resolve ref '{service.source.ref}' of {service.source.repo} "
                        f"here ({why}); the host deploys what it names then, and a branch that moves is not "
                        "noticed until the ref changes")
        return service.source.ref


def serving_commit(output: str | None) -> str | None:
    """The commit in a deploy's last "serving <sha>" line (deploy_script prints one on every success)."""
    found = re.findall(r"serving ([0-9a-f]{40})", output or "")
    return found[-1] if found else None


def service_definitions(plan: ServicePlan, service: Service, paths: Paths,
                        hosts: Sequence[str] = ()) -> dict[str, tuple[str, str]]:
    """path -> (content, mode) of the process definitions of both slots, staged: the deploy installs a slot's
    when it starts that slot (``hosts``: compose's extra_hosts). The PM2 daemon's unit is not a slot's."""
    runtime = runtime_of(plan.runtime)
    out = dict(runtime.host_files(plan, paths))
    for color in COLORS:
        out[staged_path(plan, color)] = (runtime.definitions(plan, color, files=service.files, hosts=hosts), "0644")
    return out


def watchdog_files(plan: ServicePlan) -> dict[str, tuple[str, str]]:
    """path -> (content, mode) of the service's watchdog: its script (staged), service and timer."""
    if not plan.watchdog_paths:
        return {}
    units = {f"{plan.paths.systemd}/{name}": (text, "0644") for name, text in watchdog_units(plan).items()}
    # Staged: the deploy puts it in place once a slot serves with these settings (render/watchdog.py).
    return {**units, plan.staged_watchdog: (watchdog_script(plan), "0700")}


def watchdog_switch(plan: ServicePlan) -> str:
    """Starts the watchdog's timer after its files are written, or stops one a changed stack turned off, and
    takes its scripts away: one left in place would come back with its old paths and ports when the watchdog
    is turned on again (named by the records, which hash what is there), restarting what serves."""
    timer = f"{plan.watchdog_unit}.timer"
    if plan.watchdog_paths:
        return f"systemctl daemon-reload\nsystemctl enable --quiet --now {timer}\n"
    return (f"systemctl disable --quiet --now {timer} 2>/dev/null || true\n"
            f"rm -f {quote(plan.watchdog_path)} {quote(plan.staged_watchdog)}\n")
