"""What the production and local stacks hand the engine, pinned resource by resource.

A refactor must leave every rendered script, file and resource input byte for byte the same; a fix that
changes one says so by updating the pin in the same commit. The pin is a SHA-256 per input of every
resource, so a failure names the resource and the input that changed. To see what changed, dump both
sides and diff them:

    venv/bin/python tests/test_rendered_unchanged.py dump /tmp/before    # on the old commit
    venv/bin/python tests/test_rendered_unchanged.py dump /tmp/after     # on the new one
    diff -r /tmp/before /tmp/after
    venv/bin/python tests/test_rendered_unchanged.py pin                 # when the change is meant
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from helpers.harness import ROOT, canary_secrets, read_stack_file, run_program

PINS = Path(__file__).resolve().parent / "fixtures" / "rendered.json"
STACKS = ("production", "local")


def rendered(stack: str) -> dict[str, dict[str, str]]:
    """resource ("type name") -> input -> its value as text (JSON for anything that is not a string)."""
    config = read_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    secrets = canary_secrets(config)
    secrets.setdefault("localSshKey", "local-ssh-key")
    run = run_program(config, secrets, stack=stack)
    out: dict[str, dict[str, str]] = {}
    for resource in run.resources:
        key = f"{resource.type} {resource.name}"
        assert key not in out, f"two resources are {key}"
        out[key] = {name: _text(value) for name, value in resource.inputs.items()}
        out[key]["(options)"] = _text({"parent": resource.parent, "dependsOn": sorted(resource.dependencies),
                                       "aliases": resource.aliases, "protect": resource.protect,
                                       "ignoreChanges": resource.ignore_changes, "import": resource.import_id,
                                       "deleteBeforeReplace": resource.delete_before_replace,
                                       "retainOnDelete": resource.retain_on_delete})
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str, indent=1)


def digests(stack: str) -> dict[str, dict[str, str]]:
    return {resource: {name: hashlib.sha256(text.encode()).hexdigest()[:24] for name, text in inputs.items()}
            for resource, inputs in rendered(stack).items()}


def test_every_resource_input_is_as_pinned() -> None:
    pinned = json.loads(PINS.read_text())
    changed: list[str] = []
    for stack in STACKS:
        now, then = digests(stack), pinned[stack]
        changed += [f"{stack}: {r} is new" for r in sorted(now.keys() - then.keys())]
        changed += [f"{stack}: {r} is gone" for r in sorted(then.keys() - now.keys())]
        for resource in sorted(now.keys() & then.keys()):
            for name in sorted(now[resource].keys() | then[resource].keys()):
                if now[resource].get(name) != then[resource].get(name):
                    changed.append(f"{stack}: {resource}: {name}")
    assert not changed, ("rendered inputs changed (see this file's docstring to diff and re-pin):\n  "
                         + "\n  ".join(changed))


def main(argv: list[str]) -> int:
    if argv[:1] == ["pin"]:
        PINS.write_text(json.dumps({stack: digests(stack) for stack in STACKS}, sort_keys=True, indent=1) + "\n")
        return 0
    if argv[:1] == ["dump"] and len(argv) == 2:
        for stack in STACKS:
            for resource, inputs in rendered(stack).items():
                folder = Path(argv[1]) / stack / resource.replace("/", "_").replace(" ", "__")
                folder.mkdir(parents=True, exist_ok=True)
                for name, text in inputs.items():
                    (folder / name).write_text(text)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
