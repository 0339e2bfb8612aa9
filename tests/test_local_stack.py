"""scripts/local_stack.py: the command lines it gives pulumi (the recovery from a killed `up` included)."""

from __future__ import annotations

import subprocess
import sys

from helpers.harness import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import local_stack


def argv_of(monkeypatch, *args: str) -> list[str]:
    seen: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: seen.append(argv) or subprocess.CompletedProcess(
        argv, 0, "", ""))
    local_stack.pulumi(*args, env={})
    return seen[0]


def test_cancel_gets_no_config_file_which_it_refuses(monkeypatch) -> None:
    # `pulumi cancel --config-file X` exits 1 with "unknown flag: --config-file": after a killed `up` the
    # stack stays locked until cancel runs (docs/operating.md: "A pulumi up that was killed").
    assert argv_of(monkeypatch, "cancel", "--yes") == ["pulumi", "cancel", "--yes", "--stack", "local",
                                                       "--non-interactive"]


def test_commands_that_read_the_stack_get_its_config_copy(monkeypatch) -> None:
    for command in ("up", "refresh", "preview", "destroy", "config"):
        argv = argv_of(monkeypatch, command)
        assert argv[argv.index("--config-file") + 1] == str(local_stack.CONFIG_COPY)


def test_state_gets_no_config_file_either(monkeypatch) -> None:
    # `pulumi state ... --config-file X` exits 1 with "unknown flag: --config-file" (round 32): the operating
    # docs' `pulumi state` commands (a rename that cannot be aliased) failed through this script.
    argv = argv_of(monkeypatch, "state", "unprotect", "urn:pulumi:local::stackyard::x::y", "--yes")
    assert "--config-file" not in argv and argv[:3] == ["pulumi", "state", "unprotect"]
