"""Cloud: what one kind of host (a cloud's server, or a server that exists) needs of the Pulumi layer.

Each kind is one module of this package and one entry in ``CLOUDS`` (``__init__.py``); nothing else in
the components names a cloud. Its stack-file fields are its model class (``components/model/topology.py``,
the ``provider:`` it answers to); the model imports nothing of this layer. Adding one:
``docs/extending.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import pulumi

from ..model.topology import CreatedHost, Host
from ..render.provision import SSH_ANYWHERE

ANYWHERE: list[str] = list(SSH_ANYWHERE)
"""Every address, of either family (a cloud firewall rule's sources as a list)."""


class Keyring(Protocol):
    """The SSH keys registered in one cloud account (``components/ssh_keys.py``)."""

    def references(self, public_keys: Sequence[str]) -> list[pulumi.Output[str]]: ...


@dataclass(frozen=True)
class VpsHostArgs:
    """What a host needs beyond its model entry."""

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
    private_key: pulumi.Input[str] | None = None
    """Secret private key stackyard connects with, if the stack provides one."""
    keyring: Keyring | None = None
    """Shared cloud SSH keys of the host's provider (created hosts only)."""
    path: str = ""
    """The host's config path (systems.<s>.hosts.<h>), for messages."""


@dataclass(frozen=True)
class Site:
    """Where a cloud builds one host's server: the component its resources belong to, the server's name
    in the cloud, and cloud-init's user data (None for a server that exists)."""

    parent: pulumi.Resource
    server_name: str
    user_data: pulumi.Input[str] | None = None

    def server_opts(self, args: VpsHostArgs, creation_only: list[str], **extra) -> pulumi.ResourceOptions:
        """A server's options: protected as the stack says, its creation-only inputs never changed."""
        return pulumi.ResourceOptions(parent=self.parent, protect=args.protect, ignore_changes=creation_only,
                                      **extra)

    def kept_opts(self, args: VpsHostArgs) -> pulumi.ResourceOptions:
        """An address kept apart from the server: protected as the server is."""
        return pulumi.ResourceOptions(parent=self.parent, protect=args.protect)


@dataclass(frozen=True)
class Server:
    """What a cloud made of one host: its addresses and the cloud's ID of the machine (None where none
    names it: a new ID is a new, empty machine)."""

    ipv4: pulumi.Output[str]
    ipv6: pulumi.Output[Any]
    server_id: pulumi.Output[str] | None = None
    resource: pulumi.CustomResource | None = None


def kept_size(live: pulumi.Output[str], wanted: str, allowed: bool, path: str) -> None:
    """Warn, at preview and up, that a running server keeps its size: ``live`` (the server's, from the
    state) is not ``wanted`` (the stack file's), and a resize is not ``allowed``."""
    if allowed:
        return

    def warn(now: str | None) -> None:
        if now and now != wanted:
            pulumi.log.warn(f"{path}: the server runs as {now} and stays so ({wanted} asked): a resize powers it "
                            f"off hard, databases with it; set allowResize: true for the up that makes it "
                            f"(docs/operating.md, \"Resizing a server\")")

    live.apply(warn)


def firewall_rules(spec: CreatedHost, args: VpsHostArgs) -> list[tuple[int, list[str]]]:
    """(port, source networks) for every inbound TCP port of a cloud firewall: SSH first, then the public
    ports (the model's ``public_ports``: openPorts, or 80 and 443 on a proxy host that leaves it out)."""
    rules: list[tuple[int, list[str]]] = [(spec.access.ssh_port, list(args.ssh_allow_from))]
    rules += [(port, ANYWHERE) for port in spec.public_ports]
    return rules


class Cloud:
    """The contract a kind of host fills in. The defaults are those of a server that exists already."""

    provider: ClassVar[str]
    """The stack file's ``provider:`` of the hosts it makes."""
    credential: ClassVar[str | None] = None
    """The key of ``credentials:`` (and of the Pulumi provider) holding a system's own token for it; None
    for a kind that needs no cloud account."""
    creates_servers: ClassVar[bool] = False
    """Whether stackyard makes the server (and so its host key and SSH keys in the account)."""
    dial_error_limit: ClassVar[int] = 5
    """How many failed dials a step tries before it gives up: a running server answers at once, and a
    key that differs is refused sooner."""

    def login_user(self, spec: Any) -> str:
        """The user every step connects as."""
        return spec.deploy_user

    def provider_resource(self, name: str, token: pulumi.Input[str],
                          opts: pulumi.ResourceOptions) -> pulumi.ProviderResource:
        """The Pulumi provider holding a system's own token (``credentials.<credential>``)."""
        raise NotImplementedError(f"{self.provider} has no cloud account")

    def ssh_key(self, name: str, key_name: str, public_key: str,
                opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
        """One public key registered in the account, for servers to be created with."""
        raise NotImplementedError(f"{self.provider} has no SSH keys of its own")

    def key_reference(self, key: pulumi.CustomResource) -> pulumi.Output[str]:
        """What a server takes to install a registered key."""
        raise NotImplementedError(f"{self.provider} has no SSH keys of its own")

    def build(self, name: str, spec: Any, args: VpsHostArgs, site: Site) -> Server:
        """The server and its firewall, as children of ``site.parent``."""
        return Server(ipv4=pulumi.Output.from_input(spec.address), ipv6=pulumi.Output.from_input(spec.ipv6))
