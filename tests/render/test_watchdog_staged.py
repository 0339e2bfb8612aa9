"""The watchdog of the settings that serve (round 32): the setup step installed the new watchdog before the
deploy ran, so a changed health path was checked against the release still serving from before, which it
restarted three times and left failed when the new release never came; and a changed path alone was
"already serving", never checked by a deploy. Now the setup step stages it and the deploy puts it in place
once a slot serves with its settings. Through the real deploy script on the stub host (tests/helpers/deploy_host.py),
killed and failed at every step."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from helpers.deploy_host import DeployHost

from components.render.watchdog import watchdog_script


@pytest.fixture
def host(tmp_path: Path) -> DeployHost:
    return DeployHost(tmp_path / "host")


def watching(host: DeployHost, path: str, **changes):
    return host.plan(health_path=path, watchdog_paths=(path,), **changes)


def named_in_active(host: DeployHost, script: str) -> bool:
    record = host.at("/srv/mivaa/active").read_text().split()
    return len(record) < 6 or record[5] == hashlib.sha256(script.encode()).hexdigest()[:16]


def run_watchdog(host: DeployHost, plan) -> subprocess.CompletedProcess:
    """The watchdog in place, run as its timer would, on the stub host."""
    return subprocess.run(["bash", str(host.at(plan.watchdog_path))], env=host.environment(), capture_output=True,
                          text=True, timeout=120)


def in_place(host: DeployHost, plan) -> str:
    return host.at(plan.watchdog_path).read_text()


def test_the_first_deploy_puts_its_watchdog_in_place(host: DeployHost) -> None:
    plan = watching(host, "/health")
    assert host.deploy(plan).returncode == 0
    assert in_place(host, plan) == watchdog_script(plan)
    assert not host.at(plan.staged_watchdog).exists()


def test_a_new_health_path_the_new_release_fails_leaves_the_serving_one_watched_as_before(host: DeployHost) -> None:
    old = watching(host, "/health")
    assert host.deploy(old).returncode == 0
    new = watching(host, "/healthz")
    for port in new.slot_ports("green"):
        host.script_health(port, *["500"] * 20)
    done = host.deploy(new)  # the same commit: only the settings changed
    assert done.returncode != 0, done.stdout + done.stderr
    assert "already serving" not in done.stdout + done.stderr
    assert host.active()[0] == "blue"
    assert in_place(host, old) == watchdog_script(old)  # the serving release is watched on its own path
    assert host.at(new.staged_watchdog).read_text() == watchdog_script(new)


def test_a_new_health_path_alone_is_a_deploy_checked_on_it_and_then_watched(host: DeployHost) -> None:
    assert host.deploy(watching(host, "/health")).returncode == 0
    new = watching(host, "/healthz")
    done = host.deploy(new)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already serving" not in done.stdout + done.stderr and host.active()[0] == "green"
    assert in_place(host, new) == watchdog_script(new)
    again = host.deploy(new)
    assert "already serving" in again.stdout + again.stderr  # and no deploy after that


@pytest.mark.parametrize("mode", ["kill", "fail"])
def test_killed_or_failing_at_any_step_the_watchdog_in_place_is_the_serving_slot_s(host: DeployHost,
                                                                                 mode: str) -> None:
    old, new = watching(host, "/health"), watching(host, "/healthz")
    assert host.deploy(old).returncode == 0
    snapshot = host.tmp.parent / "snapshot"
    host.snapshot(snapshot)
    step = 1
    while True:
        host.restore(snapshot)
        host.deploy(new, inject=(step, mode))
        if not host.injected():
            break  # the deploy ran to its end before the step-th call
        # The watchdog in place watches only a slot deployed for it: the new one once the new (green) slot is
        # the active one, the old one while the old (blue) is; in between (killed after the switch, before
        # the new one was put in place) the old one finds itself not named, and watches nothing.
        now = in_place(host, new)
        assert now in (watchdog_script(old), watchdog_script(new)), step
        named = named_in_active(host, now)
        assert not named or (now == watchdog_script(new)) == (host.active()[0] == "green"), (step, host.injected())
        run = run_watchdog(host, new)
        assert run.returncode == 0, (step, run.stdout + run.stderr)
        assert ("not watched" in run.stdout) == (not named), (step, run.stdout)
        settled = host.deploy(new)  # the next up
        assert settled.returncode == 0, (step, settled.stdout + settled.stderr)
        assert in_place(host, new) == watchdog_script(new), step
        step += 1
    assert step > 10


def test_a_watchdog_turned_off_or_removed_leaves_no_script_to_come_back_with_old_settings(host: DeployHost,
                                                                                           tmp_path: Path) -> None:
    """Round 33: turned off, the watchdog's timer stopped and its script stayed; the records then named that
    script (they hash what is there), so turned on again it watched the serving slot with its old paths and
    ports, restarting live instances, until a deploy put the new one in place."""
    from components.provisioning import watchdog_switch

    plan = watching(host, "/health")
    assert host.deploy(plan).returncode == 0
    off = host.plan(health_path="/healthz", watchdog_paths=())
    srv = host.at("/srv")
    bin_dir = tmp_path / "switch-bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "systemctl").chmod(0o755)
    (tmp_path / "switch").write_text(watchdog_switch(off))
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                           f"mount --bind {srv} /srv && PATH={bin_dir}:$PATH bash -e {tmp_path}/switch"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not host.at(plan.watchdog_path).exists() and not host.at(plan.staged_watchdog).exists()
    # and a service removed takes its watchdog's scripts with it
    assert host.deploy(plan).returncode == 0
    assert host.remove(plan).returncode == 0
    assert not host.at(plan.watchdog_path).exists() and not host.at(plan.staged_watchdog).exists()
