"""VpsHost: a host of the stack file, whatever its kind: the server its cloud makes (``clouds/``), or one
that exists already, with the pinned SSH connection every later step uses."""

from __future__ import annotations

from typing import NotRequired, TypedDict

import pulumi

from .clouds import cloud_of
from .clouds.base import Site, VpsHostArgs
from .host_keys import GeneratedHostKey, check_pinned_key
from .model.topology import CreatedHost
from .render.cloud_init import cloud_config


class Connection(TypedDict):
    """How every step reaches the host (RemoteSteps): the keys of pulumi_command's ConnectionArgs it uses."""

    host: pulumi.Input[str]
    port: int
    user: str
    dial_error_limit: int
    private_key: NotRequired[pulumi.Input[str]]
    host_key: NotRequired[pulumi.Input[str]]


__all__ = ["Connection", "VpsHost", "VpsHostArgs"]


class VpsHost(pulumi.ComponentResource):
    """A server and its cloud firewall, with the SSH connection later steps use."""

    ipv4: pulumi.Output[str]
    ipv6: pulumi.Output[str | None]
    server_id: pulumi.Output[str] | None
    """The cloud's ID of the server (None for an existing host): a new ID is a new, empty machine."""
    server: pulumi.CustomResource | None
    """The server its cloud made (created hosts only: an existing host has none)."""
    connection: Connection
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
        # creates_servers is the model's CreatedHost (tests/clouds/test_clouds.py): the isinstance only
        # narrows the type.
        if cloud.creates_servers and isinstance(spec, CreatedHost) and spec.adopt is None \
                and not spec.access.host_key:
            self.host_key = GeneratedHostKey(name, self)
        site = Site(self, self.server_name, self.user_data(spec, args) if isinstance(spec, CreatedHost) else None)
        made = cloud.build(name, spec, args, site)
        self.server = made.resource
        self.ipv4, self.ipv6, self.server_id = made.ipv4, made.ipv6, made.server_id
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
        # path: the stack file's name for the host, which the policy pack joins its firewall and its proxy on.
        self.register_outputs({"ipv4": self.ipv4, "ipv6": self.ipv6, "path": args.path})

    def user_data(self, spec: CreatedHost, args: VpsHostArgs) -> pulumi.Input[str]:
        """cloud-init's user data: the deploy user, its keys and, for a new server, its host key (secret)."""
        if self.host_key is None:
            return cloud_config(spec.deploy_user, args.ssh_keys, spec.access.ssh_port)
        return pulumi.Output.all(self.host_key.private, self.host_key.public).apply(
            lambda key: cloud_config(spec.deploy_user, args.ssh_keys, spec.access.ssh_port, host_key=(key[0], key[1])))
