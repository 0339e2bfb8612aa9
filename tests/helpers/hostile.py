"""Hostile values, and the stacks they are put into: the corpus of tests/model/test_hostile_values.py.

Each hostile value tries one way out of its place: into a shell (command substitution, quotes, a
newline, a heredoc's terminator), into a command's options (a leading '-'), above a directory ('..'),
or past a parser (NUL, control characters, a very long string, non-ASCII, a config file's own syntax).
Every command they hold creates the file ``CANARY`` (or, where a '/' would make the value one its kind
refuses, a file of its name in the working directory): if it appears, something ran it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from components.model import StackConfigError, load_topology
from components.render.runtimes import RUNTIMES

from .harness import ROOT, every_secret_set, read_stack_file
from .model_walk import Slot, string_slots

CANARY = "/tmp/stackyard-pwned"

HOSTILE: dict[str, str] = {
    "command substitution": f"$(touch {CANARY})",
    "backticks": f"`touch {CANARY}`",
    "single quote": f"x';touch {CANARY};'",
    "double quote": f'x";touch {CANARY};"',
    "newline": f"x\ntouch {CANARY}\n",
    "carriage return": f"x\rtouch {CANARY}",
    # Python's `$` matches before a final newline: a check written with re.match(...$) lets this through.
    "trailing newline": "api\n",
    "heredoc terminators": f"x\nSTACKYARD_EOF\ntouch {CANARY}\nEOF\ntouch {CANARY}\n",
    "leading dash": f"--upload-pack=touch {CANARY}",
    "dot-dot": "../../../../etc/x",
    "NUL": "a\x00b",
    "very long": "a" * 70000,
    "non-ASCII": "é日本語\u202eabc",
    "variables": "%n %i ${HOME} $HOME {{x}} {env.HOME}",
    "config syntax": "x;\n}\ninclude /etc/passwd;\nserver {\n#",
    # A value its kind could accept: Python reads anything after an IPv6 scope's % but '/' and '%' as the
    # scope, so this is a network in CIDR form to ipaddress (its command names the canary without a '/').
    "network with a scope": "fe80::%$(touch stackyard-pwned)/64",
}
"""name -> value."""

MALFORMED: dict[str, Any] = {"null": None, "number": 42, "boolean": True, "list": ["x"], "mapping": {"x": 1}}
"""Values of the wrong type, put in place of any node of a stack file."""

STACKS = {
    "production": ROOT / "Pulumi.production.yaml",
    "local": ROOT / "Pulumi.local.yaml",
    "kitchen-sink": ROOT / "tests/fixtures/stacks/kitchen-sink.yaml",
}


def stack(name: str) -> dict[str, Any]:
    """A stack file's ``config:``, its encrypted values left out (tests name every secret set)."""
    config = read_stack_file(STACKS[name])
    return {k: v for k, v in config.items() if not (isinstance(v, dict) and set(v) == {"secure"})}


def values_of(config: dict[str, Any]) -> dict[str, Any]:
    """The ``stackyard:`` keys without the namespace, as load_topology takes them."""
    return {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("stackyard:")}


def slots(name: str) -> list[Slot]:
    return string_slots(stack(name))


def nodes(node: Any, path: tuple = ()) -> Iterator[tuple]:
    """The path of every value in a stack file's config, containers included."""
    if path:
        yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from nodes(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from nodes(value, (*path, i))


def replaced(config: dict[str, Any], path: tuple, value: Any, *, key: bool = False) -> dict[str, Any]:
    """A copy of ``config`` with the value at ``path`` (or, with ``key``, the mapping key it ends in)
    replaced by ``value``, the mapping's order kept."""
    out = copy.deepcopy(config)
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if key:
        items = list(parent.items())
        parent.clear()
        parent.update({(value if k == last else k): v for k, v in items})
    else:
        parent[last] = value
    return out


def narrowed(config: dict[str, Any], path: tuple) -> dict[str, Any]:
    """``config`` with only the system ``path`` is in (all of it for a top-level key): the other systems'
    checks cannot see a change there, and each system more costs every generated case its time."""
    if len(path) < 2 or path[0] != "stackyard:systems":
        return config
    return {**config, "stackyard:systems": {path[1]: config["stackyard:systems"][path[1]]}}


def config_path(path: tuple) -> str:
    """``stackyard:systems`` + keys as the model's error messages give it (``systems.x.hosts.y``)."""
    out = path[0].split(":", 1)[1]
    for part in path[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def related(problem: str, path: str) -> bool:
    """A problem reported at ``path``, inside it, or at one of the entries that hold it."""
    return problem == path or problem.startswith((path + ".", path + "[")) or path.startswith(
        (problem + ".", problem + "["))


__all__ = [
    "CANARY",
    "HOSTILE",
    "MALFORMED",
    "STACKS",
    "Path",
    "config_path",
    "load",
    "narrowed",
    "nodes",
    "related",
    "replaced",
    "slots",
    "stack",
    "values_of",
]


def load(config: dict) -> StackConfigError | None:
    """The error load_topology raises for ``config`` (every secret it names set), or None."""
    try:
        load_topology(values_of(config), every_secret_set, runtimes=RUNTIMES)
    except StackConfigError as err:
        return err
    return None
