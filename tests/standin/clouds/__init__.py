"""What each stand-in knows of its cloud: the resource types stackyard uses, what the real provider
refuses in their inputs, what it replaces rather than updates, and the outputs it computes.

Rules see plain values (secrets unwrapped); a value not known yet (preview) is never refused.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..conform import conform
from ..schema import Object, resource_schema
from ..values import known, plain

Failure = tuple[str, str]
Rule = Callable[[dict[str, Any]], list[Failure]]


@dataclass(frozen=True)
class Kind:
    """One resource type of a cloud."""

    token: str
    required: tuple[str, ...] = ()
    """Inputs the real provider requires that its schema leaves optional (the schema's own required
    properties are checked from the pinned SDK: tests/standin/schema.py)."""
    replace_on: tuple[str, ...] = ()
    """Inputs whose change the real provider can only apply by replacing the resource."""
    rules: tuple[Rule, ...] = ()
    new_id: Callable[[str, dict[str, Any]], str] = lambda name, inputs: hex_id(name)
    """The ID the cloud assigns, from the resource name and its plain inputs."""
    computed: Callable[[str, str, dict[str, Any]], dict[str, Any]] = lambda id_, name, inputs: {}
    """Outputs the cloud computes, from the ID, the resource name and the plain inputs."""
    delete_before_replace: bool = False
    """True where two of them cannot exist at once (a unique name in the cloud)."""
    clash: Callable[[dict[str, Any], dict[str, Any]], str | None] | None = None
    """Why the cloud refuses these (plain) inputs beside another of its resources of this type, or None: what
    it keeps unique across resources, which no one resource's Check can see (Vercel: a key per target)."""

    def check(self, inputs: dict[str, Any]) -> list[Failure]:
        values = plain(inputs)
        failures = [(key, f"missing required property '{key}'") for key in self.required
                    if values.get(key) is None]
        for rule in self.rules:
            failures += rule(values)
        return failures

    def inputs_of(self, state: dict[str, Any]) -> dict[str, Any]:
        """A state without what the cloud computed: what Read reports as inputs."""
        computed = set(self.computed("0", "x", plain(state)))
        return {key: value for key, value in state.items() if key not in computed}


@dataclass(frozen=True)
class Cloud:
    name: str
    """The plugin's name: pulumi-resource-<name>."""
    title: str
    package: str
    """The Python SDK whose pulumi-plugin.json names the plugin version it expects."""
    kinds: Mapping[str, Kind]
    config_rules: tuple[Rule, ...] = field(default=())

    @property
    def version(self) -> str:
        """The version the SDK expects, with '+standin' build metadata: semver ignores it when comparing,
        so the engine does not warn about a version mismatch, and the version says what the plugin is."""
        spec = importlib.util.find_spec(self.package)
        assert spec is not None and spec.submodule_search_locations, self.package
        meta = json.loads((Path(next(iter(spec.submodule_search_locations))) / "pulumi-plugin.json").read_text())
        return f"{meta['version']}+standin"

    def schema(self, token: str) -> Object:
        """The resource's input object, read from the pinned SDK (tests/standin/schema.py)."""
        return resource_schema(self.package, token)

    def check(self, kind: Kind, inputs: dict[str, Any], *, rules: bool = True) -> list[Failure]:
        """What the real plugin's Check refuses: first what misfits its schema (names, types, required
        properties, enums, nested shapes), then, on inputs that fit, the kind's hand-written rules for
        what a schema cannot say. The rules assume the schema's shapes, so they wait for a fit, as a
        bridged plugin type-checks before its validators run."""
        failures = conform(self.schema(kind.token), inputs)
        if failures or not rules:
            return failures
        return kind.check(inputs)

    def check_config(self, config: dict[str, Any]) -> list[Failure]:
        values = plain(config)
        return [failure for rule in self.config_rules for failure in rule(values)]


def kinds(*items: Kind) -> dict[str, Kind]:
    return {kind.token: kind for kind in items}


# --- IDs and computed values: addresses deterministic per resource, numeric IDs new per creation -----


def _number(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest(), 16)


def numeric_id(name: str) -> str:
    """A new number each time, as the clouds give: a replaced server must not come back with its old ID."""
    import secrets

    return str(secrets.randbelow(9 * 10**8) + 10**8)


def hex_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def prefixed_id(prefix: str) -> Callable[[str, dict[str, Any]], str]:
    return lambda name, inputs: f"{prefix}{hashlib.sha256(name.encode()).hexdigest()[:24]}"


def ipv4_of(name: str) -> str:
    """A documentation address (RFC 5737), stable per resource."""
    return f"198.51.100.{_number(name) % 250 + 1}"


def ipv6_of(name: str) -> str:
    return f"2001:db8:{_number(name) % 65535:x}::1"


def ssh_fingerprint(public_key: str) -> str:
    """The MD5 fingerprint both clouds show for a key: colon-separated hex of the key blob."""
    import base64

    digest = hashlib.md5(base64.b64decode(public_key.split()[1])).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


# --- rules shared by several clouds ------------------------------------------------------------


def matches(key: str, pattern: str, what: str) -> Rule:
    compiled = re.compile(pattern)

    def rule(values: dict[str, Any]) -> list[Failure]:
        value = values.get(key)
        if known(value) and not compiled.fullmatch(str(value)):
            return [(key, f"{value!r} is not {what}")]
        return []

    return rule


def at_most(key: str, limit: int, unit: str = "characters") -> Rule:
    def rule(values: dict[str, Any]) -> list[Failure]:
        value = values.get(key)
        if known(value) and len(value) > limit:
            return [(key, f"must be at most {limit} {unit} (got {len(value)})")]
        return []

    return rule


def one_of(key: str, choices: tuple[str, ...]) -> Rule:
    def rule(values: dict[str, Any]) -> list[Failure]:
        value = values.get(key)
        if known(value) and value not in choices:
            return [(key, f"expected one of {', '.join(choices)}; got {value!r}")]
        return []

    return rule


def valid_ssh_key(key: str = "publicKey") -> Rule:
    def rule(values: dict[str, Any]) -> list[Failure]:
        import base64
        import binascii

        value = values.get(key)
        if not known(value):
            return []
        parts = str(value).split()
        try:
            ok = len(parts) >= 2 and bool(base64.b64decode(parts[1], validate=True))
        except (binascii.Error, ValueError):
            ok = False
        return [] if ok else [(key, "is not a valid OpenSSH public key")]

    return rule


def cidrs(path: str, values: list[Any] | None) -> list[Failure]:
    failures = []
    for i, cidr in enumerate(values or []):
        if not known(cidr):
            continue
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            failures.append((f"{path}[{i}]", f"{cidr!r} is not a CIDR network"))
    return failures


def token_set(key: str, env: str, config_hint: str) -> Rule:
    """The real provider stops at Configure without a credential (config key or environment variable)."""
    import os

    def rule(values: dict[str, Any]) -> list[Failure]:
        if values.get(key) is None and not os.environ.get(env):
            return [(key, f"no credential: set it with `pulumi config set --secret {config_hint}` (or {env})")]
        return []

    return rule


NAMES = ("hcloud", "digitalocean", "cloudflare", "vercel", "github")


def cloud_named(name: str) -> Cloud:
    """The stand-in for ``pulumi-resource-<name>``; each cloud is a module of this package."""
    if name not in NAMES:
        raise KeyError(f"no stand-in for {name}; there are: {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{name}").cloud()
