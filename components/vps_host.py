"""VpsHost: a server created in Hetzner Cloud or DigitalOcean, or an existing one adopted by address."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .adoption import adopted
from .host_keys import GeneratedHostKey, check_pinned_key
from .model import DigitalOceanHost, ExistingHost, HetznerHost
from .render.cloud_init import cloud_config
from .render.provision import SSH_ANYWHERE
from .ssh_keys import SshKeyring

ANYWHERE = list(SSH_ANYWHERE)
"""Every address, of either family (a cloud firewall rule's sources as a list)."""
# cloud-init only reads user data at first boot, and Hetzner can only set SSH keys at creation:
# changing either must not rebuild a running server.
CREATION_ONLY = ["userData", "sshKeys"]
HETZNER_CREATION_ONLY = [*CREATION_ONLY, "publicNets"]
"""A Hetzner server's public networks too: its provider applies a change of them (primaryIp or ipv6 turned on
or off) by powering the running server off hard and, for a Primary IP, deleting the address it had."""


@dataclass(frozen=True)
class VpsHostArgs:
    """What a VpsHost needs beyond its model entry."""

    system: str
    """Name of the system the host belongs to; part of the server's name."""
    spec: HetznerHost | DigitalOceanHost | ExistingHost
    """The host's entry in the stack file."""
    ssh_keys: tuple[str, ...] = ()
    """Public keys for the deploy user: stackyard:sshKeys plus the host's own."""
    ssh_allow_from: tuple[str, ...] = SSH_ANYWHERE
    """Networks allowed to reach SSH through the cloud firewall."""
    protect: bool = True
    """Protect the server (and its kept IP) from deletion and replacement."""
    private_key: pulumi.Output[str] | None = None
    """Secret private key stackyard connects with, if the stack provides one."""
    keyring: SshKeyring | None = None
    """Shared cloud SSH keys of the host's provider (created hosts only)."""
    path: str = ""
    """The host's config path (systems.<s>.hosts.<h>), for messages."""


class VpsHost(pulumi.ComponentResource):
    """A server and its cloud firewall, with the SSH connection later steps use."""

    ipv4: pulumi.Output[str]
    ipv6: pulumi.Output[str | None]
    server_id: pulumi.Output[str] | None
    """The cloud's ID of the server (None for an existing host): a new ID is a new, empty machine."""
    connection: dict[str, pulumi.Input]
    """host, port, user and (secret) private_key, in the shape of pulumi_command's ConnectionArgs."""

    def __init__(self, name: str, args: VpsHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stackyard:index:VpsHost", name, {}, opts)
        spec = args.spec
        self.server_name = f"{args.system}-{name.removeprefix(args.system + '-')}"
        # A server stackyard creates gets a host key stackyard makes; one that exists has its key pinned in
        # the stack file (components/host_keys.py), and so does one adopted once whose `adopt:` has gone
        # since (a key made now would be one it never had).
        self.host_key = None
        if not isinstance(spec, ExistingHost) and spec.adopt is None and not spec.access.host_key:
            self.host_key = GeneratedHostKey(name, self)
        if isinstance(spec, HetznerHost):
            self._hetzner(name, spec, args)
            user = spec.deploy_user
        elif isinstance(spec, DigitalOceanHost):
            self._digitalocean(name, spec, args)
            user = spec.deploy_user
        else:
            self.ipv4 = pulumi.Output.from_input(spec.address)
            self.ipv6 = pulumi.Output.from_input(spec.ipv6)
            self.server_id = None
            user = spec.user
        self.connection = {
            "host": self.ipv4,
            "port": spec.access.ssh_port,
            "user": user,
            # A fresh server takes a while to accept SSH; a running one answers at once, and a key that
            # differs is refused sooner.
            "dial_error_limit": 5 if isinstance(spec, ExistingHost) else 30,
        }
        if args.private_key is not None:
            self.connection["private_key"] = args.private_key
        if self.host_key is not None:
            self.connection["host_key"] = self.host_key.public
        elif spec.access.host_key:
            # Asked of the host before any step connects: a key that differs stops the program, saying so.
            pinned = spec.access.host_key
            self.connection["host_key"] = self.ipv4.apply(
                lambda address: check_pinned_key(f"{args.path}.access.hostKey", address, spec.access.ssh_port,
                                                 pinned) or pinned)
        self.register_outputs({"ipv4": self.ipv4, "ipv6": self.ipv6})

    def user_data(self, spec: HetznerHost | DigitalOceanHost, args: VpsHostArgs) -> pulumi.Input[str]:
        """cloud-init's user data: the deploy user, its keys and, for a new server, its host key (secret)."""
        if self.host_key is None:
            return cloud_config(spec.deploy_user, args.ssh_keys, spec.access.ssh_port)
        return pulumi.Output.all(self.host_key.private, self.host_key.public).apply(
            lambda key: cloud_config(spec.deploy_user, args.ssh_keys, spec.access.ssh_port, host_key=(key[0], key[1])))

    def firewall_rules(self, spec: HetznerHost | DigitalOceanHost, args: VpsHostArgs) -> list[tuple[int, list[str]]]:
        """(port, source networks) for every inbound TCP port: SSH first, then the open ports."""
        rules = [(spec.access.ssh_port, list(args.ssh_allow_from))]
        rules += [(port, ANYWHERE) for port in spec.open_ports]
        return rules

    def _server_opts(self, args: VpsHostArgs, creation_only: list[str] = CREATION_ONLY,
                     **extra) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, protect=args.protect, ignore_changes=creation_only, **extra)

    def _hetzner(self, name: str, spec: HetznerHost, args: VpsHostArgs) -> None:
        import pulumi_hcloud as hcloud

        child = pulumi.ResourceOptions(parent=self)
        adopt = spec.adopt
        labels = {"managed-by": "stackyard", "system": args.system}
        firewall = hcloud.Firewall(
            f"{name}-firewall",
            name=self.server_name,
            labels=labels,
            rules=[
                {"direction": "in", "protocol": "tcp", "port": str(port), "source_ips": sources,
                 "description": "ssh" if i == 0 else f"port {port}"}
                for i, (port, sources) in enumerate(self.firewall_rules(spec, args))
            ] + [{"direction": "in", "protocol": "icmp", "source_ips": ANYWHERE, "description": "ping"}],
            opts=adopted(child, adopt and adopt.firewall),
        )
        public_net: dict = {"ipv4_enabled": True, "ipv6_enabled": spec.ipv6}
        if spec.primary_ip:
            primary = hcloud.PrimaryIp(
                f"{name}-ipv4",
                name=f"{self.server_name}-ipv4",
                type="ipv4",
                assignee_type="server",
                location=spec.location,
                auto_delete=False,
                labels=labels,
                opts=adopted(pulumi.ResourceOptions(parent=self, protect=args.protect), adopt and adopt.primary_ip),
            )
            public_net["ipv4"] = primary.id.apply(int)
        server = hcloud.Server(
            name,
            name=self.server_name,
            server_type=spec.server_type,
            image=spec.image,
            location=spec.location,
            ssh_keys=args.keyring.references(args.ssh_keys),
            user_data=self.user_data(spec, args),
            public_nets=[public_net],
            backups=spec.snapshots,
            labels=labels,
            # Hetzner names are unique in a project: the old server must go before its replacement comes.
            opts=adopted(self._server_opts(args, HETZNER_CREATION_ONLY, delete_before_replace=True),
                         adopt and adopt.server),
        )
        hcloud.FirewallAttachment(
            f"{name}-firewall-attachment",
            firewall_id=firewall.id.apply(int),
            server_ids=[server.id.apply(int)],
            opts=adopted(child, adopt and adopt.firewall),  # an attachment's ID is its firewall's
        )
        self.server = server
        self.server_id = server.id
        self.ipv4 = server.ipv4_address
        self.ipv6 = server.ipv6_address if spec.ipv6 else pulumi.Output.from_input(None)

    def _digitalocean(self, name: str, spec: DigitalOceanHost, args: VpsHostArgs) -> None:
        import pulumi_digitalocean as digitalocean

        child = pulumi.ResourceOptions(parent=self)
        adopt = spec.adopt
        droplet = digitalocean.Droplet(
            name,
            name=self.server_name,
            size=spec.size,
            region=spec.region,
            image=spec.image,
            ssh_keys=args.keyring.references(args.ssh_keys),
            user_data=self.user_data(spec, args),
            ipv6=spec.ipv6,
            backups=spec.snapshots,
            tags=["stackyard", args.system],
            opts=adopted(self._server_opts(args), adopt and adopt.droplet),
        )
        everywhere = {"source_addresses": ANYWHERE}
        digitalocean.Firewall(
            f"{name}-firewall",
            name=self.server_name,
            droplet_ids=[droplet.id.apply(int)],
            inbound_rules=[
                {"protocol": "tcp", "port_range": str(port), "source_addresses": sources}
                for port, sources in self.firewall_rules(spec, args)
            ] + [{"protocol": "icmp", **everywhere}],
            outbound_rules=[
                {"protocol": "tcp", "port_range": "1-65535", "destination_addresses": ANYWHERE},
                {"protocol": "udp", "port_range": "1-65535", "destination_addresses": ANYWHERE},
                {"protocol": "icmp", "destination_addresses": ANYWHERE},
            ],
            opts=adopted(child, adopt and adopt.firewall),
        )
        self.server = droplet
        self.server_id = droplet.id
        self.ipv4 = droplet.ipv4_address
        if spec.reserved_ip:
            reserved = digitalocean.ReservedIp(
                f"{name}-ipv4",
                region=spec.region,
                droplet_id=droplet.id.apply(int),
                opts=adopted(pulumi.ResourceOptions(parent=self, protect=args.protect), adopt and adopt.reserved_ip),
            )
            self.ipv4 = reserved.ip_address
        self.ipv6 = droplet.ipv6_address if spec.ipv6 else pulumi.Output.from_input(None)
