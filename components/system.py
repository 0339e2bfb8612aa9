"""System: everything one product of the topology needs, built in dependency order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi

from .clouds import cloud_of
from .model import PagesFrontend, Settings, System
from .model.topology import CreatedHost
from .providers import system_providers
from .ssh_access import checked_login_key
from .ssh_keys import SshKeyring
from .values import Resolver
from .vps_host import VpsHost, VpsHostArgs

if TYPE_CHECKING:
    from .cloudflare_pages import CloudflarePagesProject
    from .vercel_project import VercelProject


class StackSystem(pulumi.ComponentResource):
    """Hosts first, then DNS (which may point at them), then Supabase, frontends and CI secrets (which
    may reference records and hosts). Provider SDKs are imported only when a system uses them."""

    hosts: dict[str, VpsHost]

    def __init__(self, name: str, system: System, settings: Settings,
                 keyrings: dict[tuple[str, str | None], SshKeyring],
                 resolver: Resolver | None = None, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stackyard:index:System", name, {}, opts)
        self.spec = system
        self.resolver = resolver or Resolver()
        # Its own cloud tokens, if it names any: every child then goes through those providers.
        providers = system_providers(name, system.credentials, self.resolver, self)
        child = pulumi.ResourceOptions(parent=self, providers=list(providers.values()))
        self.hosts = {}
        # The networks that reach each host's SSH: its own list, or the stack's (cloud firewall and ufw alike).
        ssh_allowed = {h: tuple(spec.access.ssh_allow_from or settings.ssh_allow_from)
                       for h, spec in system.hosts.items()}
        for host_name, spec in system.hosts.items():
            private_key = self.resolver.resolve(spec.access.private_key) if spec.access.private_key else None
            installed = tuple(dict.fromkeys([*settings.ssh_keys, *getattr(spec, "ssh_keys", ())]))
            if private_key is not None and cloud_of(spec.provider).creates_servers:
                private_key = checked_login_key(private_key, installed,
                                                f"systems.{name}.hosts.{host_name}.access.privateKey")
            keyring = None
            cloud = cloud_of(spec.provider)
            if cloud.creates_servers:
                # A cloud that creates servers is a CreatedHost's (tests/clouds/test_clouds.py), with an account.
                assert isinstance(spec, CreatedHost) and cloud.credential is not None
                own = getattr(system.credentials, cloud.credential)
                # One keyring per cloud account: the stack's, or this system's own.
                account = (spec.provider, own.secret if own else None)
                if account not in keyrings:
                    keyrings[account] = SshKeyring(
                        spec.provider, settings.adopt_ssh_keys.get(spec.provider), account=account[1],
                        opts=pulumi.ResourceOptions(provider=providers[cloud.credential]) if own else None)
                keyring = keyrings[account]
            self.hosts[host_name] = VpsHost(
                f"{name}-{host_name}",
                VpsHostArgs(
                    system=name,
                    spec=spec,
                    ssh_keys=installed,
                    ssh_allow_from=ssh_allowed[host_name],
                    protect=settings.protect,
                    private_key=private_key,
                    keyring=keyring,
                    path=f"systems.{name}.hosts.{host_name}",
                ),
                opts=child,
            )
        self.resolver = self.resolver.knowing(hosts=self.hosts)

        self.records: dict[str, pulumi.Output[str]] = {}
        dns = None
        if system.dns.records:
            from .cloudflare_dns import CloudflareDns, CloudflareDnsArgs

            dns = CloudflareDns(
                f"{name}-dns",
                CloudflareDnsArgs(
                    system=name,
                    dns=system.dns,
                    host_addresses={h: {"A": host.ipv4, "AAAA": host.ipv6} for h, host in self.hosts.items()},
                    protect=settings.protect,
                ),
                opts=child,
            )
            self.records = {hostname: r.name for hostname, r in dns.records.items()}
        self.resolver = self.resolver.knowing(records=self.records)

        # Provisioning waits for DNS, so certificates can be issued for the hostnames right away.
        self.provisioning = {}
        for host_name, spec in system.hosts.items():
            if not spec.provision:
                continue
            from .provisioning import HostProvisioning, HostProvisioningArgs

            self.provisioning[host_name] = HostProvisioning(
                f"{name}-{host_name}-setup",
                HostProvisioningArgs(
                    host_name=host_name,
                    system_name=name,
                    spec=spec,
                    connection=self.hosts[host_name].connection,
                    machine=self.hosts[host_name].server_id,
                    former_prefixes=tuple(f"{s}-{h}-setup" for s in (name, *system.formerly)
                                          for h in (host_name, *spec.formerly) if (s, h) != (name, host_name)),
                    ssh_allow_from=ssh_allowed[host_name],
                    services={n: s for n, s in system.services.items() if s.host == host_name},
                    resolver=self.resolver,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[dns] if dns is not None else []),
            )

        self.supabase = None
        if system.supabase is not None:
            from .supabase.project import SupabaseProject, SupabaseProjectArgs

            self.supabase = SupabaseProject(f"{name}-supabase",
                                            SupabaseProjectArgs(spec=system.supabase, resolver=self.resolver),
                                            opts=child)

        self.frontends: dict[str, CloudflarePagesProject | VercelProject] = {}
        for frontend_name, spec in system.frontends.items():
            zone = system.dns.zones.get(spec.zone) if spec.zone else None
            zone_id = zone.zone_id if zone else None
            if isinstance(spec, PagesFrontend):
                from .cloudflare_pages import CloudflarePagesProject, CloudflarePagesProjectArgs

                self.frontends[frontend_name] = CloudflarePagesProject(
                    f"{name}-{frontend_name}",
                    CloudflarePagesProjectArgs(spec=spec, resolver=self.resolver, zone_id=zone_id,
                                               protect=settings.protect),
                    opts=child)
            else:
                from .vercel_project import VercelProject, VercelProjectArgs

                self.frontends[frontend_name] = VercelProject(
                    f"{name}-{frontend_name}",
                    VercelProjectArgs(spec=spec, resolver=self.resolver,
                                      path=f"systems.{name}.frontends.{frontend_name}",
                                      zone_id=zone_id, zone=spec.zone, protect=settings.protect),
                    opts=child)

        self.resolver = self.resolver.knowing(frontends=self.frontends)
        if system.github is not None:
            from .github_secrets import GithubActionsSecrets, GithubActionsSecretsArgs

            GithubActionsSecrets(f"{name}-github",
                                 GithubActionsSecretsArgs(spec=system.github, resolver=self.resolver,
                                                          token=system.credentials.github), opts=child)

        self.register_outputs({})

    def summary(self) -> dict:
        """The stack outputs of this system: what operators look up. Nothing in it is secret."""
        hosts = {}
        for name, host in self.hosts.items():
            connection = host.connection
            ssh = pulumi.Output.all(connection["host"], connection["port"], connection["user"]).apply(
                lambda c: f"ssh -p {c[1]} {c[2]}@{c[0]}" if c[1] != 22 else f"ssh {c[2]}@{c[0]}")
            hosts[name] = {"ipv4": host.ipv4, "ipv6": host.ipv6, "ssh": ssh}
        out: dict = {"hosts": hosts, "records": sorted(self.records)}
        if self.frontends:
            out["frontends"] = {
                name: {"url": frontend.url, "domains": [f"https://{d}" for d in frontend.domains],
                       # a VercelProject's: pyright does not narrow a union on hasattr
                       **({"projectId": frontend.project_id}  # pyright: ignore[reportAttributeAccessIssue]  hasattr
                          if hasattr(frontend, "project_id") else {})}
                for name, frontend in self.frontends.items()}
        apis = sorted(f"https://{hostname}" for service in self.spec.services.values()
                      if service.host in self.provisioning and self.spec.hosts[service.host].proxy is not None
                      for hostname in service.hostnames)
        if apis:
            out["apis"] = apis
        services = {name: {"host": host, "commit": provisioning.deployed_commit(name)}
                    for host, provisioning in self.provisioning.items() for name in provisioning.deploys}
        if services:
            out["services"] = services
        if self.spec.supabase is not None:
            out["supabase"] = {"url": f"https://{self.spec.supabase.project_ref}.supabase.co"}
        return out
