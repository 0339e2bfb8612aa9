"""A stand-in cloud holding what a stack adopts, as the stack file describes it.

The program runs under Pulumi's mocks (tests/helpers/harness.py) with the stack's own config values; every
resource it registers with an import ID is written to the stand-in cloud (provider.Store) with the
exact inputs the program will send and the outputs the stand-in computes. A preview through the
stand-ins then finds each adopted resource where its import ID says and shows `import`, as a real
provider finds a live one: the engine tier and `make preview` run it.

    python -m standin.seed STACK_FILE CLOUD_DIR [CONFIG_JSON]
      CONFIG_JSON: a file, or - for stdin, holding `pulumi config --show-secrets --json` of the stack
                   (default: canaries for the secrets)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pulumi
import yaml

from .clouds import NAMES, cloud_named
from .provider import Store
from .values import plain


def seed(registrations, root: Path) -> list[str]:
    """Writes every adopted registration into the stand-in cloud at ``root``; returns their names."""
    seeded = []
    stores: dict[str, Store] = {}
    for reg in registrations:
        provider = reg.type.split(":")[0]
        if not reg.import_id or provider not in NAMES:
            continue
        kind = cloud_named(provider).kinds[reg.type]
        store = stores.setdefault(provider, Store(str(root), provider))
        id_ = reg.import_id.rsplit("/", 1)[-1]
        inputs = reg.wire
        store.put(kind.token, id_, inputs, {**inputs, **kind.computed(id_, reg.name, plain(inputs))})
        seeded.append(reg.name)
    return seeded


def seed_stack(config: dict[str, Any], secrets: dict[str, str], root: Path) -> list[str]:
    """Runs the program on a stack's config (``secrets``: ``ns:key`` or stackyard keys -> values) under mocks,
    and seeds what it adopts."""
    from helpers.harness import run_program

    return seed(run_program(config, secrets).resources, root)


def shown_secrets(shown: dict[str, Any]) -> dict[str, str]:
    """The secrets of `pulumi config --show-secrets --json`."""
    return {key: entry["value"] for key, entry in shown.items() if entry.get("secret")}


def main(argv: list[str]) -> int:
    from helpers.harness import canary_secrets, read_stack_file

    stack_file, root = Path(argv[0]), Path(argv[1])
    text = (sys.stdin.read() if argv[2] == "-" else Path(argv[2]).read_text()) if len(argv) > 2 else None
    try:
        config = read_stack_file(stack_file)
        secrets = shown_secrets(json.loads(text)) if text is not None else canary_secrets(config)
        names = seed_stack(config, secrets, root)
    except (yaml.YAMLError, pulumi.RunError):
        # A stack file with mistakes: the preview that follows reports them, each with its path, once
        # and with no traceback (the program's own RunError, or the engine's YAML error). Seeding
        # nothing changes nothing it would show.
        print(f"standin-seed: nothing seeded, {stack_file} has mistakes (below)", file=sys.stderr)
        return 0
    print(f"standin-seed: {len(names)} adopted resources in {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
