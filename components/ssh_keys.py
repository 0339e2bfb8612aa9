"""One cloud SSH key per distinct public key and provider.

Clouds (Hetzner and DigitalOcean both) refuse a second key with the same fingerprint in one
project/account, so hosts that share an operator's key must share the key resource too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pulumi

from .adoption import adopted
from .clouds import cloud_of


def key_slug(public_key: str) -> str:
    return hashlib.sha256(public_key.split()[1].encode()).hexdigest()[:12]


class SshKeyring(pulumi.ComponentResource):
    """The SSH keys registered with one cloud provider, created on first use."""

    def __init__(self, provider: str, adopt: dict[str, str] | None = None, account: str | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        """``account``: the secret naming a system's own token, for a keyring in that account (its
        resources are named after it); None for the stack's account."""
        self.prefix = f"{provider}-{account}" if account else provider
        super().__init__("stackyard:index:SshKeyring", f"{self.prefix}-ssh-keys", {}, opts)
        self.provider = provider
        self.cloud = cloud_of(provider)
        self.adopt = {key.strip(): key_id for key, key_id in (adopt or {}).items()}
        """Public key -> the ID of that key in the cloud already (stackyard:adoptSshKeys)."""
        self._keys: dict[str, pulumi.CustomResource] = {}
        self.register_outputs({})

    def _key(self, public_key: str) -> pulumi.CustomResource:
        slug = key_slug(public_key)
        if slug not in self._keys:
            name = f"{self.prefix}-key-{slug}"
            # An adopted key is never deleted (adoption.adopted): a key ring renamed (a system given a token of
            # its own) imports it again under the new name, and the old name's delete removed it from the cloud.
            opts = adopted(pulumi.ResourceOptions(parent=self), self.adopt.get(public_key.strip()))
            self._keys[slug] = self.cloud.ssh_key(name, f"stackyard-{slug}", public_key.strip(), opts)
        return self._keys[slug]

    def references(self, public_keys: Sequence[str]) -> list[pulumi.Output[str]]:
        """What a server takes to install the keys (the cloud's ``key_reference``)."""
        return [self.cloud.key_reference(self._key(k)) for k in dict.fromkeys(k.strip() for k in public_keys)]
