"""The program: read the stack's config, validate it, build every system, export the results."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from .model import NAMESPACE, StackConfigError, Topology, load_topology
from .model.rules import SecretState
from .renames import keeping_state
from .render.runtimes import RUNTIMES
from .ssh_keys import SshKeyring
from .system import StackSystem


def stack_config_values() -> dict[str, Any]:
    """Every ``stackyard:`` key of the running stack (without the namespace), decoded."""
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE or not name:
            continue
        if isinstance(value, str):
            with contextlib.suppress(ValueError):  # plain strings stay strings
                value = json.loads(value)
        values[name] = value
    return values


def secret_state(name: str) -> SecretState:
    key = f"{NAMESPACE}:{name}"
    if runtime_config.get_config(key) is None:
        return "missing"
    # Inline programs get their secret keys through set_all_config, the CLI through the environment.
    secret = runtime_config.is_config_secret(key) or key in runtime_config.get_config_secret_keys_env()
    return "secret" if secret else "plain"


def other_keys() -> list[str]:
    """The stack's config keys of other namespaces than stackyard's."""
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return sorted(key for key in raw if key.partition(":")[0] != NAMESPACE)


def load() -> Topology:
    return load_topology(stack_config_values(), secret_state, other_keys(), runtimes=RUNTIMES)


def build(topology: Topology) -> dict[str, StackSystem]:
    keyrings: dict[tuple[str, str | None], SshKeyring] = {}
    systems = {}
    for name, system in topology.systems.items():
        transform = keeping_state(name, system)
        # The transformation gives the system's component its former names too, and every resource in it.
        opts = pulumi.ResourceOptions(transformations=[transform]) if transform else None
        systems[name] = StackSystem(name, system, topology.settings, keyrings, opts=opts)
    return systems


def main() -> None:
    try:
        topology = load()
    except StackConfigError as err:
        # A clean message naming every bad key, not a traceback.
        raise pulumi.RunError(str(err)) from None
    for warning in topology.warnings:
        pulumi.log.warn(warning)
    systems = build(topology)
    pulumi.export("systems", {name: system.summary() for name, system in systems.items()})
