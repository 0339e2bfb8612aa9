"""Renames that keep state: a system or host listed under its new name with ``formerly: [old]``.

Every resource of a system is named after it (``<system>-<host>-setup-<step>``), and a URN holds the
name: renamed, each would be created anew and the old one deleted last, and some deletes stop what
serves (a service's removal, an accessory's server), delete a secret the new resource just wrote, or
generate a new password. With ``formerly``, each resource whose name starts with the new name is also
known by the old one (a Pulumi alias), so the engine moves its state and deletes nothing. A URN holds
its parents' types, not their names, so a name alias is all it takes.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from .model import System


def former_names(name: str, system: System, system_name: str) -> list[str]:
    """Each name ``name`` (a resource of ``system``, called ``system_name`` now) may have had before."""
    systems = [system_name, *system.formerly]
    hosts = {host: [host, *(spec.formerly or ())] for host, spec in system.hosts.items()}
    olds: list[str] = []
    # The host the name is of: the longest whose prefix it has (`web-2-setup-base` is web-2's, not web's).
    owners = [host for host in hosts if name == f"{system_name}-{host}" or name.startswith(f"{system_name}-{host}-")]
    if owners:
        host = max(owners, key=len)
        rest = name[len(f"{system_name}-{host}"):]
        olds += [f"{s}-{h}{rest}" for s in systems for h in hosts[host]]
    if not olds and (name == system_name or name.startswith(system_name + "-")):
        rest = name[len(system_name):]
        olds = [f"{s}{rest}" for s in systems]
    return [old for old in dict.fromkeys(olds) if old != name]


def keeping_state(system_name: str, system: System) -> Callable | None:
    """A transformation giving every resource of the system its former names as aliases; None when the
    system and its hosts had no other name."""
    if not system.formerly and not any(spec.formerly for spec in system.hosts.values()):
        return None

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
        olds = former_names(args.name, system, system_name)
        if not olds:
            return pulumi.ResourceTransformationResult(args.props, args.opts)
        aliases = [pulumi.Alias(name=old) for old in olds]  # merge() adds them to the resource's own
        return pulumi.ResourceTransformationResult(args.props, pulumi.ResourceOptions.merge(
            args.opts, pulumi.ResourceOptions(aliases=aliases)))

    return transform
