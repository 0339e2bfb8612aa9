"""Turns model Values (plain text, secret, record or host references) into Pulumi inputs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import pulumi

from .model import AccessoryRef, FrontendRef, HostRef, RecordRef, SecretRef, Value, connections
from .model.topology import holds_secret

if TYPE_CHECKING:
    from .vps_host import VpsHost


@runtime_checkable
class FrontendIds(Protocol):
    """What a FrontendRef reads of a frontend's component (a Vercel project's; the rules refuse any other)."""

    def frontend_id(self, output: str) -> pulumi.Output[str]:
        """``projectId`` or ``teamId``."""
        ...


def secret_from_config(name: str) -> pulumi.Output[str]:
    """The decrypted value of ``stackyard:<name>``, still wrapped as a Pulumi secret."""
    return pulumi.Config("stackyard").require_secret(name)


@dataclass(frozen=True)
class AccessoryLogin:
    """What a service on the host reads of one accessory: its user, database and password (None for an
    existing Redis without one)."""

    password: pulumi.Output[str] | None
    user: str | None = None
    database: str | None = None

    def output(self, kind: str, output: str) -> pulumi.Input[str]:
        """``{accessory: kind, output: output}``: the password and the URL as secrets, the rest as text."""
        if output not in connections.SECRET_OUTPUTS:
            return connections.value(kind, output, user=self.user, password=None, database=self.database)
        password = pulumi.Output.from_input(self.password)
        return pulumi.Output.secret(password.apply(lambda p: connections.value(
            kind, output, user=self.user, password=p, database=self.database)))


def fill(template: str, value: pulumi.Input[str | None]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(value).apply(lambda v: template.replace("{}", v or ""))


@dataclass(frozen=True)
class Resolver:
    """Resolves the Values of one system, with what exists at one phase of its build. It never changes:
    each phase makes the next one's with ``knowing``, so a component resolves only what was built before
    it, whatever the order the rest is built in."""

    secret: Callable[[str], pulumi.Output[str]] = secret_from_config
    records: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    hosts: Mapping[str, VpsHost] = field(default_factory=dict)
    accessories: Mapping[str, Mapping[str, AccessoryLogin]] = field(default_factory=dict)
    """host name -> accessory kind -> its login."""
    frontends: Mapping[str, object] = field(default_factory=dict)
    """frontend name -> its component, once built (a Vercel project's answers FrontendIds)."""

    def knowing(self, *, hosts: Mapping[str, VpsHost] | None = None,
                records: Mapping[str, pulumi.Output[str]] | None = None,
                frontends: Mapping[str, object] | None = None,
                accessories: Mapping[str, Mapping[str, AccessoryLogin]] | None = None) -> Resolver:
        """This resolver and what was built since; ``accessories`` (host name -> logins) are added to
        those known, host by host."""
        return dataclasses.replace(
            self, hosts=self.hosts if hosts is None else hosts, records=self.records if records is None else records,
            frontends=self.frontends if frontends is None else frontends,
            accessories={**self.accessories, **(accessories or {})})

    def resolve(self, value: Value, host: str | None = None) -> pulumi.Input[str]:
        """The value as a Pulumi input; ``host`` is the host of the service asking (for accessories)."""
        if isinstance(value, str):
            return value
        if isinstance(value, SecretRef):
            return pulumi.Output.secret(self.secret(value.secret))
        if isinstance(value, RecordRef):
            return fill(value.format, self.records[value.record])
        if isinstance(value, HostRef):
            server = self.hosts[value.host]
            address = server.ipv4 if value.family == "ipv4" else server.ipv6
            return fill(value.format, address)
        if isinstance(value, FrontendRef):
            frontend = self.frontends[value.frontend]
            assert isinstance(frontend, FrontendIds)  # the rules refuse a FrontendRef to any other frontend
            return frontend.frontend_id(value.output)
        if isinstance(value, AccessoryRef) and host is not None:
            return self.accessories[host][value.accessory].output(value.accessory, value.output)
        raise TypeError(f"not a stackyard value here: {value!r}")

    @staticmethod
    def is_secret(value: Value) -> bool:
        return holds_secret(value)
