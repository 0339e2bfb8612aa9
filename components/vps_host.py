"""VpsHost: a host of the stack file, whatever its kind: the server its cloud makes (``clouds/``), or one
that exists already, with the pinned SSH connection every later step uses."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .clouds import cloud_of
from .host_keys import GeneratedHostKey, check_pinned_key
from .model.topology import CreatedHost, Host
from .render.cloud_init import cloud_config
from .render.provision import SSH_ANYWHERE
from .ssh_keys import SshKeyring

ANYWHERE = list(SSH_ANYWHERE)
"""Every address, of either family (a cloud firewall rule's sources as a list)."""


@dataclass(frozen=True)
class VpsHostArgs:
    """What a VpsHost needs beyond its model entry."""

    system: str
    """Name of the system the host belongs to; part of the server's name."""
    spec: Host
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

    ANYWHERE = ANYWHERE

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
        cloud = cloud_of(spec.provider)
        self.host_key = None
        if cloud.creates_servers and spec.adopt is None and not spec.access.host_key:
            self.host_key = GeneratedHostKey(name, self)
        cloud.build(self, name, spec, args)
        self.connection = {
            "host": self.ipv4,
            "port": spec.access.ssh_port,
            "user": cloud.login_user(spec),
            # A fresh server takes a while to accept SSH; a running one answers at once.
            "dial_error_limit": cloud.dial_error_limit,
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

    def user_data(self, spec: CreatedHost, args: VpsHostArgs) -> pulumi.Input[str]:
        """cloud-init's user data: the deploy user, its keys and, for a new server, its host key (secret)."""
        if self.host_key is None:
            return cloud_config(spec.deploy_user, args.ssh_keys, spec.access.ssh_port)
        return pulumi.Output.all(self.host_key.private, self.host_key.public).apply(
            lambda key: cloud_config(spec.deploy_user, args.ssh_keys, spec.access.ssh_port, host_key=(key[0], key[1])))

    def firewall_rules(self, spec: CreatedHost, args: VpsHostArgs) -> list[tuple[int, list[str]]]:
        """(port, source networks) for every inbound TCP port: SSH first, then the open ports."""
        rules = [(spec.access.ssh_port, list(args.ssh_allow_from))]
        rules += [(port, ANYWHERE) for port in spec.open_ports]
        return rules

    def server_opts(self, args: VpsHostArgs, creation_only: list[str], **extra) -> pulumi.ResourceOptions:
        """A server's options: protected as the stack says, its creation-only inputs never changed."""
        return pulumi.ResourceOptions(parent=self, protect=args.protect, ignore_changes=creation_only, **extra)
