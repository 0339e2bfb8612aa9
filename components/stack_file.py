"""A stack file read on its own: `make preview` checks it before any engine runs.

    venv/bin/python -m components.stack_file Pulumi.<stack>.yaml

Prints nothing and exits 0 when the file is YAML and its stack config passes the model's rules; otherwise
prints the file's mistakes, each with its config path (or the YAML error with its line), and exits 1, with
no traceback. Pulumi's own message for a file that is not YAML names neither the file nor the stack.
What needs the secrets' values (a login key the host would refuse) is checked by the program itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from .model import NAMESPACE, StackConfigError, Topology, load_topology
from .render.runtimes import RUNTIMES


class StackFileError(Exception):
    """What is wrong with a stack file, worded for its user: the file's name, then its mistakes."""


def topology_from_file(path: Path) -> Topology:
    """The validated model of a stack file. A secret set elsewhere (`make up` sets the local stack's SSH key
    in a copy) counts as set: this needs its name, never its value. Raises StackConfigError for the
    config's mistakes, yaml.YAMLError and OSError as they come, StackFileError for a file of another shape."""
    with path.open() as stream:  # the YAML error's mark then names the file
        document = yaml.safe_load(stream) or {}
    config = (document.get("config") or {}) if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise StackFileError(f"{path.name}: not a stack file (its top level is not a mapping with a config: "
                             "mapping)")
    values = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith(f"{NAMESPACE}:")}

    def secret_state(name: str):
        value = values.get(name)
        return "plain" if value is not None and not (isinstance(value, dict) and "secure" in value) else "secret"

    return load_topology(values, secret_state, runtimes=RUNTIMES)


def read(path: Path) -> Topology:
    """``topology_from_file``, with every way the file can be wrong one StackFileError: what `make preview`,
    `make up` and `make diagram` print, with no traceback."""
    try:
        return topology_from_file(path)
    except StackConfigError as err:
        raise StackFileError(f"{path.name}: {err}") from None
    except yaml.YAMLError as err:
        raise StackFileError(f"{path.name} is not YAML: {err}") from None
    except OSError as err:
        raise StackFileError(f"{path.name}: {err.strerror}") from None


def main(argv: list[str]) -> int:
    try:
        read(Path(argv[0]))
    except StackFileError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
