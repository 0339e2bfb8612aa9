"""One rule at a time: a system read from a few lines of YAML, and the Findings a rule records on it.

The rules are also exercised through whole mocked programs (tests/model/test_bad_stack_files.py); these
helpers let a test call one rule function directly, on a system that holds only what the rule reads.
"""

from __future__ import annotations

from collections.abc import Iterable

import yaml

from components.model.parse import Reader
from components.model.rules import Findings, SecretState
from components.model.topology import Settings, System
from components.render.runtimes import RUNTIMES

HOST = """
provider: existing
address: 192.0.2.10
user: root
access: {hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKWLtowiqYBA794YJ9Hjrtc0j5gRJ0VK3CThVGxCZvSc"}
proxy: {kind: nginx}
"""
"""An existing host with a proxy: the smallest host every section's rules accept."""


def settings(text: str, *, plain: Iterable[str] = ()) -> tuple[Findings, Settings]:
    """The stack's settings read from ``text`` (the ``stackyard:`` keys, camelCase, as in a stack file),
    which the reader must accept whole, and empty Findings over them. A ``{secret: x}`` is set as a secret
    unless ``x`` is in ``plain``."""
    reader = Reader()
    read = reader.read(Settings, yaml.safe_load(text), "")
    assert not reader.problems, reader.problems
    plain = set(plain)

    def state(name: str) -> SecretState:
        return "plain" if name in plain else "secret"

    return Findings(read, state, RUNTIMES), read


def system(text: str, name: str = "shop", **kwargs) -> tuple[Findings, System]:
    """One system, ``systems.<name>``, read from ``text`` (the system's own keys), and empty Findings."""
    indented = "\n".join("    " + line for line in text.strip("\n").splitlines())
    findings, read = settings(f"systems:\n  {name}:\n{indented}\n", **kwargs)
    return findings, read.systems[name]


def with_host(text: str, host: str = HOST, name: str = "web") -> str:
    """``text`` (a system's keys) with one host, ``hosts.<name>``, the existing host above by default."""
    lines = "\n".join("    " + line for line in host.strip("\n").splitlines())
    return f"hosts:\n  {name}:\n{lines}\n{text}"


def paths(findings: Findings) -> list[str]:
    """The config paths the rules failed, in order."""
    return [path for path, _ in findings.problems]
