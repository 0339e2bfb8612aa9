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


def topology_from_file(path: Path) -> Topology:
    """The validated model of a stack file. A secret set elsewhere (`make up` sets the local stack's SSH key
    in a copy) counts as set: this needs its name, never its value."""
    with path.open() as stream:  # the YAML error's mark then names the file
        config = (yaml.safe_load(stream) or {}).get("config", {})
    values = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith(f"{NAMESPACE}:")}

    def secret_state(name: str):
        value = values.get(name)
        return "plain" if value is not None and not (isinstance(value, dict) and "secure" in value) else "secret"

    return load_topology(values, secret_state, runtimes=RUNTIMES)


def mistakes(path: Path) -> str | None:
    """What is wrong with the stack file at ``path``, as the user should read it, or None."""
    try:
        topology_from_file(path)
    except StackConfigError as err:
        return f"{path.name}: {err}"
    except yaml.YAMLError as err:
        return f"{path.name} is not YAML: {err}"
    except OSError as err:
        return f"{path.name}: {err.strerror}"
    except AttributeError:
        return f"{path.name}: not a stack file (its top level is not a mapping with a config: section)"
    return None


def main(argv: list[str]) -> int:
    found = mistakes(Path(argv[0]))
    if found:
        print(found, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
