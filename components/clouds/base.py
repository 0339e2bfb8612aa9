"""Cloud: what one kind of host (a cloud's server, or a server that exists) needs of the Pulumi layer.

Each kind is one module of this package and one entry in ``CLOUDS`` (``__init__.py``); nothing else in
the components names a cloud. Its stack-file fields are its model class (``components/model/topology.py``,
the ``provider:`` it answers to); the model imports nothing of this layer. Adding one:
``docs/extending.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pulumi

if TYPE_CHECKING:
    from ..vps_host import VpsHost, VpsHostArgs


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

    def build(self, host: VpsHost, name: str, spec: Any, args: VpsHostArgs) -> None:
        """The server and its firewall, as children of ``host``; sets ``host.ipv4``, ``host.ipv6`` and
        ``host.server_id`` (None where no cloud ID names the machine)."""
        host.ipv4 = pulumi.Output.from_input(spec.address)
        host.ipv6 = pulumi.Output.from_input(spec.ipv6)
        host.server_id = None
