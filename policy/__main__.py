"""The stackyard policy pack: `pulumi preview --policy-pack policy` (and `make preview`) runs it.

Every guardrail (guardrails.py) is a stack validation policy: it sees every resource the engine
plans, with its parent, so a rule can read what a stackyard component says about its children
(a frontend's publicSecrets, a host's ufw and backups).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

# pulumi-policy is in the pack's own venv (policy/venv: its protobuf pin conflicts with the program's SDKs)
from pulumi_policy import (  # pyright: ignore[reportMissingImports]  policy/venv's
    EnforcementLevel,
    PolicyPack,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError  # pyright: ignore[reportMissingImports]  policy/venv's

from guardrails import GUARDRAILS, Guardrail, Resource


def known(value: Any) -> Any:
    """A plain copy of a property value, leaving out what is not known yet (reading it would raise)."""
    if isinstance(value, Mapping):
        out = {}
        for key in value:
            with contextlib.suppress(UnknownValueError):
                out[key] = known(value[key])
        return out
    if isinstance(value, Sequence) and not isinstance(value, str):
        items = []
        for i in range(len(value)):
            with contextlib.suppress(UnknownValueError):
                items.append(known(value[i]))
        return items
    return value


def plain(args: StackValidationArgs) -> list[Resource]:
    """The engine's resources as guardrails.Resource, parents linked."""
    made: dict[str, Resource] = {}

    def convert(resource) -> Resource:
        if resource.urn not in made:
            parent = convert(resource.parent) if resource.parent is not None else None
            made[resource.urn] = Resource(resource.resource_type, resource.name, known(resource.props),
                                          bool(resource.opts.protect), parent, resource.urn)
        return made[resource.urn]

    return [convert(r) for r in args.resources]


def policy(guardrail: Guardrail) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation) -> None:
        for violation in guardrail.check(plain(args)):
            report_violation(violation.message, violation.resource.urn if violation.resource else None)

    return StackValidationPolicy(
        name=guardrail.name,
        description=" ".join(guardrail.description.split()),
        enforcement_level=EnforcementLevel.MANDATORY if guardrail.mandatory else EnforcementLevel.ADVISORY,
        validate=validate,
    )


PolicyPack(name="stackyard", policies=[policy(g) for g in GUARDRAILS])
