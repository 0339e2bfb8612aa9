"""Turns model Values (plain text, secret, record or host references) into Pulumi inputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pulumi

from .model import HostRef, RecordRef, SecretRef, Value


def secret_from_config(name: str) -> pulumi.Output[str]:
    """The decrypted value of ``stackyard:<name>``, still wrapped as a Pulumi secret."""
    return pulumi.Config("stackyard").require_secret(name)


def fill(template: str, value: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(value).apply(lambda v: template.replace("{}", v or ""))


@dataclass
class Resolver:
    """Resolves the Values of one system. ``records`` and ``hosts`` fill in as they are built."""

    secret: Callable[[str], pulumi.Output[str]] = secret_from_config
    records: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    hosts: Mapping[str, object] = field(default_factory=dict)

    def resolve(self, value: Value) -> pulumi.Input[str]:
        if isinstance(value, str):
            return value
        if isinstance(value, SecretRef):
            return pulumi.Output.secret(self.secret(value.secret))
        if isinstance(value, RecordRef):
            return fill(value.format, self.records[value.record])
        if isinstance(value, HostRef):
            host = self.hosts[value.host]
            address = host.ipv4 if value.family == "ipv4" else host.ipv6
            return fill(value.format, address)
        raise TypeError(f"not a stackyard value: {value!r}")

    @staticmethod
    def is_secret(value: Value) -> bool:
        return isinstance(value, SecretRef)
