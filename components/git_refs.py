"""Which commit a service's `source.ref` names right now, asked of its repository from the operator's
machine (`git ls-remote`), so that `ref: main` deploys again when main moves, and the preview shows
the commit it will deploy.

Where the repository cannot be asked (no network, no access, STACKYARD_RESOLVE_REFS=off, as the
tests set), the ref itself is deployed, as the host resolves it, and the program warns: a moved
branch is then not noticed until the ref changes in the stack file.
"""

from __future__ import annotations

import os
import re
import subprocess
from functools import cache

COMMIT = re.compile(r"[0-9a-f]{40}")
TIMEOUT = 20


class Unresolved(Exception):
    """Why a ref could not be resolved: shown in the program's warning."""


def resolving() -> bool:
    return os.environ.get("STACKYARD_RESOLVE_REFS", "on") != "off"


def git_environment() -> dict[str, str]:
    """git as a preview may run it on a pull request's stack file: the repository is an argument after
    `--` (never an option: `--upload-pack=...` would run a command here), only the network transports
    and local files (no `ext::`, which runs one), never a prompt."""
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true",
            "GIT_ALLOW_PROTOCOL": "https:http:ssh:file",
            "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")}


@cache
def resolve(repo: str, ref: str) -> str:
    """The commit ``ref`` (a branch, a tag, or a commit already) names in ``repo``; Unresolved if unknown.

    An annotated tag resolves to the commit it tags, a branch wins over a tag of the same name, as
    the deploy script on the host does."""
    if COMMIT.fullmatch(ref):
        return ref
    if not resolving():
        raise Unresolved("STACKYARD_RESOLVE_REFS=off")
    try:
        done = subprocess.run(
            ["git", "ls-remote", "--", repo, f"refs/heads/{ref}", f"refs/tags/{ref}", f"refs/tags/{ref}^{{}}"],
            capture_output=True, text=True, timeout=TIMEOUT, env=git_environment())
    except (OSError, subprocess.TimeoutExpired) as err:
        raise Unresolved(f"git ls-remote: {err}") from err
    if done.returncode != 0:
        raise Unresolved((done.stderr.strip().splitlines() or [f"git ls-remote exited {done.returncode}"])[-1])
    found = {name: sha for sha, name in (line.split("\t", 1) for line in done.stdout.splitlines() if "\t" in line)}
    for name in (f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}"):
        if name in found:
            return found[name]
    raise Unresolved(f"no branch or tag {ref} in {repo}")
