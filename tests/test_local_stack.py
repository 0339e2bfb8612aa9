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


def test_up_with_a_broken_local_stack_file_names_the_mistake_and_boots_nothing(monkeypatch, tmp_path, capfd) -> None:
    broken = tmp_path / "Pulumi.local.yaml"
    broken.write_text(local_stack.STACK_FILE.read_text().replace("runtime: systemd", "runtime: sytemd", 1))
    monkeypatch.setattr(local_stack, "STACK_FILE", broken)
    booted: list[bool] = []
    monkeypatch.setattr(local_stack.local_host, "up", lambda fresh: booted.append(fresh) or {})
    assert local_stack.up(fresh=False) == 1
    assert not booted
    err = capfd.readouterr().err
    assert "Pulumi.local.yaml: the stack config has 1 problem:" in err and ".runtime: unknown runtime 'sytemd'" in err
    assert "Traceback" not in err
