"""GitHub, as pulumi-github answers for Actions secrets."""

from __future__ import annotations

from typing import Any

from ..values import known
from . import Cloud, Failure, Kind, kinds, matches

NAME = "github"
VALUES = ("value", "valueEncrypted", "plaintextValue", "encryptedValue")


def secret(values: dict[str, Any]) -> list[Failure]:
    failures = []
    name = values.get("secretName")
    if known(name) and str(name).upper().startswith("GITHUB_"):
        failures.append(("secretName", "secret names must not start with GITHUB_"))
    given = [key for key in VALUES if values.get(key) is not None]
    if len(given) != 1:
        failures.append(("value", f"exactly one of {', '.join(VALUES)} must be set; got {len(given)}"))
    return failures


def cloud() -> Cloud:
    return Cloud(
        name=NAME, title="GitHub", package="pulumi_github",
        kinds=kinds(
            Kind("github:index/actionsSecret:ActionsSecret", replace_on=("repository", "secretName"),
                 rules=(matches("secretName", r"[A-Za-z_][A-Za-z0-9_]*", "a secret name"), secret),
                 new_id=lambda name, inputs: f"{inputs.get('repository')}:{inputs.get('secretName')}",
                 computed=lambda id_, name, inputs: {"createdAt": "2026-01-01T00:00:00Z",
                                                     "updatedAt": "2026-01-01T00:00:00Z"}),
        ),
    )
