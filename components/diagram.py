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

from .render.diagram import topology_dot
from .stack_file import StackFileError, read

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    assert __doc__ is not None  # the module's docstring, first line above
    parser = argparse.ArgumentParser(prog="python -m components.diagram", description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    try:
        topology = read(ROOT / f"Pulumi.{args.stack}.yaml")
    except StackFileError as err:
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
