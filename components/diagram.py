"""`make diagram STACK=production`: the stack's topology, drawn from its stack file alone.

    venv/bin/python -m components.diagram production [--out docs]

Reads and validates `Pulumi.<stack>.yaml` (no cloud, no passphrase: secrets are shown by name only),
writes `docs/topology-<stack>.dot` (components/render/diagram.py), then `.svg` and `.png` with
Graphviz's `dot` when it is installed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .model import NAMESPACE, StackConfigError, Topology, load_topology
from .render.diagram import topology_dot
from .render.runtimes import RUNTIMES

ROOT = Path(__file__).resolve().parent.parent


def topology_from_file(path: Path) -> Topology:
    """The validated model of a stack file. A secret set elsewhere (`make up` sets the local stack's SSH key
    in a copy) counts as set: a diagram needs its name, never its value."""
    config = (yaml.safe_load(path.read_text()) or {}).get("config", {})
    values = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith(f"{NAMESPACE}:")}

    def secret_state(name: str):
        value = values.get(name)
        return "plain" if value is not None and not (isinstance(value, dict) and "secure" in value) else "secret"

    return load_topology(values, secret_state, runtimes=RUNTIMES)


def main(argv: list[str]) -> int:
    assert __doc__ is not None  # the module's docstring, first line above
    parser = argparse.ArgumentParser(prog="python -m components.diagram", description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    try:
        topology = topology_from_file(ROOT / f"Pulumi.{args.stack}.yaml")
    except StackConfigError as err:
        print(err, file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    dot_file = args.out / f"topology-{args.stack}.dot"
    dot_file.write_text(topology_dot(topology, args.stack))
    print(dot_file)
    if shutil.which("dot") is None:
        print("dot (Graphviz) is not installed: wrote the .dot file only", file=sys.stderr)
        return 0
    for fmt in ("svg", "png"):
        target = dot_file.with_suffix(f".{fmt}")
        subprocess.run(["dot", f"-T{fmt}", "-Gdpi=110" if fmt == "png" else "-Gdpi=72", str(dot_file), "-o",
                        str(target)], check=True)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
