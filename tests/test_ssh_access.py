"""A created host's login key must be one cloud-init installs on it (components/ssh_access.py), checked with
the real ssh-keygen on keys made for the test."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pulumi
import pytest
from helpers.harness import canary_secrets, production_config, run_program

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen (openssh-client) not found")


def keypair(tmp: Path, name: str) -> tuple[str, str]:
    path = tmp / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True)
    return path.read_text(), (path.with_suffix(".pub")).read_text().strip()


def with_login_key(private: str, installed: list[str]) -> tuple[dict, dict]:
    config = copy.deepcopy(production_config())
    config["stackyard:sshKeys"] = installed
    config.pop("stackyard:adoptSshKeys")
    secrets = canary_secrets(config)
    secrets["mehkoDeploySshKey"] = private
    return config, secrets


def test_a_login_key_that_is_installed_passes(tmp_path: Path) -> None:
    private, public = keypair(tmp_path, "deploy")
    config, secrets = with_login_key(private, [public])
    run = run_program(config, secrets)
    assert not any("mehko.hosts.api.access.privateKey" in line for line in run.logs)


def test_a_login_key_the_host_would_refuse_stops_the_program(tmp_path: Path) -> None:
    private, _ = keypair(tmp_path, "deploy")
    _, other = keypair(tmp_path, "operator")
    config, secrets = with_login_key(private, [other])
    with pytest.raises(pulumi.RunError, match=r"systems\.mehko\.hosts\.api\.access\.privateKey: the host would "
                                              r"not let this key in"):
        run_program(config, secrets)


def test_a_placeholder_cannot_be_checked_and_says_so() -> None:
    config = production_config()
    run = run_program(config, canary_secrets(config))
    warned = [line for line in run.logs if "cannot be checked against the keys installed" in line]
    assert sorted(line.split(":")[0] for line in warned) == ["systems.material-kai.hosts.mivaa.access.privateKey",
                                                             "systems.mehko.hosts.api.access.privateKey"]


def test_a_key_under_a_passphrase_asks_nobody(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ssh-keygen asks for a passphrase on the terminal, or through SSH_ASKPASS (a program it starts); at
    preview, neither is stackyard's to trigger: such a key cannot be checked, and says so."""
    from components.ssh_access import public_half

    path = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f", str(path)], check=True)
    asked = tmp_path / "asked"
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\ntouch {asked}\necho 'a passphrase'\n")
    askpass.chmod(0o755)
    monkeypatch.setenv("SSH_ASKPASS", str(askpass))
    monkeypatch.setenv("SSH_ASKPASS_REQUIRE", "force")
    monkeypatch.setenv("DISPLAY", ":0")
    assert public_half(path.read_text()) is None
    assert not asked.exists()
