"""Host keys: the keys stackyard makes are OpenSSH's own format, deterministic, and the ones it pins are
checked against what the address presents (a throwaway loopback sshd plays the server)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pulumi
import pytest
from helpers.harness import ROOT
from helpers.sshd import sshd_fixture

from components.host_keys import check_pinned_key, fingerprint, private_key_pem, public_key_line

sshd = sshd_fixture()


def test_a_generated_key_is_one_ssh_keygen_reads_and_the_same_every_time(tmp_path: Path) -> None:
    seed = os.urandom(32)
    key = tmp_path / "key"
    key.write_text(private_key_pem(seed))
    key.chmod(0o600)
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=True)
    assert derived.stdout.strip() == public_key_line(seed)
    assert private_key_pem(seed) == private_key_pem(seed)  # no diff at every preview
    listed = subprocess.run(["ssh-keygen", "-lf", "-"], input=public_key_line(seed), capture_output=True,
                            text=True, check=True)
    assert listed.stdout.split()[1] == fingerprint(public_key_line(seed))


def test_the_pinned_key_is_checked_against_what_the_address_presents(sshd, monkeypatch) -> None:
    monkeypatch.setenv("STACKYARD_CHECK_HOST_KEYS", "on")
    check_pinned_key("systems.s.hosts.h.access.hostKey", sshd.host, sshd.port, sshd.host_key)  # the right one
    other = public_key_line(os.urandom(32))
    with pytest.raises(pulumi.RunError, match=r"systems.s.hosts.h.access.hostKey: .* presents the host key "
                                              r"SHA256:.*Nothing was sent to it"):
        check_pinned_key("systems.s.hosts.h.access.hostKey", sshd.host, sshd.port, other)


def test_scripts_host_key_prints_the_key_to_pin_and_its_fingerprint(sshd) -> None:
    done = subprocess.run([str(ROOT / "scripts" / "host-key"), sshd.host, str(sshd.port)], capture_output=True,
                          text=True, check=True)
    assert f"key:         {sshd.host_key}" in done.stdout
    assert f"fingerprint: {fingerprint(sshd.host_key)}" in done.stdout
    assert subprocess.run([str(ROOT / "scripts" / "host-key"), "--upload-pack=x"], capture_output=True).returncode == 2


def test_a_created_server_gets_the_generated_key_through_cloud_init_and_every_step_pins_it() -> None:
    """A server stackyard creates has no key anyone could have pinned: stackyard makes it, cloud-init installs
    it as the server's only host key, and every command's connection pins its public half."""
    import copy

    import yaml
    from helpers.harness import canary_secrets, production_config, run_program

    config = copy.deepcopy(production_config())
    api = config["stackyard:systems"]["mehko"]["hosts"]["api"]
    api.pop("adopt")
    api["access"].pop("hostKey")
    run = run_program(config, canary_secrets(config))
    server = next(r for r in run.resources if r.type == "hcloud:index/server:Server")
    user_data = yaml.safe_load(server.inputs["userData"].split("\n", 1)[1])
    public = user_data["ssh_keys"]["ed25519_public"]
    assert user_data["ssh_keys"]["ed25519_private"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert user_data["ssh_deletekeys"] is True  # the image's own keys go
    steps = [r for r in run.of_type("command:remote:Command") if r.name.startswith("mehko-api-setup-")]
    assert steps and {r.inputs["connection"]["hostKey"] for r in steps} == {public.strip()}
