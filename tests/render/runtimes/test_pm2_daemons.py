"""A PM2 service's slots each run under a PM2 daemon of their own (``<unit>-pm2@<colour>``), so that a change
of the daemon's unit reaches the processes of the slot a deploy starts, and the serving slot, under its own
daemon, runs on untouched until the switch.

Round 29: with one daemon of both slots, a changed unit (``logs.files`` adds a directory to ReadWritePaths)
never took effect: nothing reloaded or restarted the daemon, and the deploy said "already serving"."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers.deploy_host import DeployHost

from components.render.deploy import service_header
from components.render.layout import ServicePlan
from components.render.runtimes import runtime_of
from components.render.scripts import shell

BLUE, GREEN, SHARED = ("stackyard-mivaa-pm2@blue.service", "stackyard-mivaa-pm2@green.service",
                       "stackyard-mivaa-pm2.service")


@pytest.fixture
def host(tmp_path: Path) -> DeployHost:
    host = DeployHost(tmp_path)
    host.at("/var/lib/stackyard/mivaa").mkdir(parents=True)
    return host


def pm2(host: DeployHost, **changes) -> ServicePlan:
    # No health path: the stubbed host's curl answers only for systemd's units.
    return host.plan(runtime="pm2", health_path=None, **changes)


def index(calls: list[str], call: str) -> int:
    assert call in calls, f"{call!r} never ran:\n" + "\n".join(calls)
    return calls.index(call)


@pytest.mark.parametrize("new_commit", [False, True])
def test_a_changed_daemon_unit_reaches_the_new_slot_and_never_stops_the_serving_one(
        host: DeployHost, new_commit: bool) -> None:
    before = pm2(host)
    assert host.deploy(before).returncode == 0
    assert host.running() >= {BLUE} and GREEN not in host.running()
    after = pm2(host, log_files=("/var/log/mivaa/app.log",))
    if new_commit:
        host.commit("v2")
    done_before = len(host.calls())
    done = host.deploy(after)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already serving" not in done.stdout
    calls = host.calls()[done_before:]
    # The new slot's daemon starts from the unit as written now, before any of its processes does.
    reload_ = index(calls, "systemctl daemon-reload")
    start = index(calls, f"systemctl restart {GREEN}")
    processes = next(i for i, c in enumerate(calls) if " startOrReload " in c and "/pm2/green " in c)
    assert reload_ < start < processes
    # The serving slot's daemon is neither restarted nor stopped until the proxy routes to the new slot.
    switch = index(calls, "systemctl reload nginx")
    touching_blue = [i for i, c in enumerate(calls) if BLUE in c]
    assert touching_blue and min(touching_blue) > switch, calls
    assert host.active()[0] == "green"
    assert host.running() >= {GREEN} and BLUE not in host.running()
    assert not [v for v in host.violations() if "daemon of its own" in v]
    # Deployed, the same unit is no change.
    assert "already serving" in host.deploy(after).stdout


def test_a_slot_s_processes_never_run_under_another_slot_s_daemon(host: DeployHost) -> None:
    assert host.deploy(pm2(host)).returncode == 0
    host.commit("v2")
    assert host.deploy(pm2(host)).returncode == 0
    for call in host.calls():
        if call.startswith("pm2 ") and "ecosystem." in call:
            home, color = call.split()[1], call.split("ecosystem.")[1].split(".")[0]
            assert home.endswith(f"/pm2/{color}"), call


def test_a_slot_that_stops_leaves_nothing_to_resurrect(host: DeployHost) -> None:
    assert host.deploy(pm2(host)).returncode == 0
    assert host.at("/var/lib/stackyard/mivaa/pm2/blue/dump.pm2").exists()
    host.commit("v2")
    assert host.deploy(pm2(host)).returncode == 0
    assert not host.at("/var/lib/stackyard/mivaa/pm2/blue/dump.pm2").exists()
    assert host.at("/var/lib/stackyard/mivaa/pm2/green/dump.pm2").exists()
    assert f"systemctl disable --quiet --now {BLUE}" in host.calls()


def shared_daemon_serving(host: DeployHost) -> None:
    """The host as stackyard left it before each slot had a daemon of its own: the blue slot's processes
    under the one daemon of both slots, whose home is the directory that now holds the slots' homes."""
    assert host.deploy(pm2(host)).returncode == 0
    (host.tmp / "running" / BLUE).rename(host.tmp / "running" / SHARED)
    host.at("/var/lib/stackyard/mivaa/pm2/blue/dump.pm2").rename(host.at("/var/lib/stackyard/mivaa/pm2/dump.pm2"))


def test_the_daemon_of_both_slots_of_before_serves_until_the_switch_then_goes(host: DeployHost) -> None:
    shared_daemon_serving(host)
    host.commit("v2")
    done_before = len(host.calls())
    done = host.deploy(pm2(host))
    assert done.returncode == 0, done.stdout + done.stderr
    calls = host.calls()[done_before:]
    assert index(calls, "systemctl reload nginx") < min(i for i, c in enumerate(calls) if "disable" in c
                                                         and SHARED in c)
    assert SHARED not in host.running() and GREEN in host.running()
    assert not [v for v in host.violations() if "daemon of its own" in v]


def test_a_failed_deploy_leaves_the_daemon_of_both_slots_of_before_serving(host: DeployHost) -> None:
    shared_daemon_serving(host)
    host.commit("v2")
    (host.tmp / "pm2-start-fails").touch()
    done = host.deploy(pm2(host))
    assert done.returncode == 1
    assert "the blue slot keeps serving" in done.stdout
    assert SHARED in host.running() and GREEN not in host.running()
    assert host.active()[0] == "blue"
    (host.tmp / "pm2-start-fails").unlink()
    assert host.deploy(pm2(host)).returncode == 0
    assert SHARED not in host.running() and host.active()[0] == "green"


@pytest.mark.parametrize("mode", ["kill", "fail"])
def test_a_unit_change_stopped_at_any_step_never_stops_the_serving_daemon_before_a_switch(
        host: DeployHost, mode: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Killed or failing at each step of the deploy of a changed unit: until `active` names green, the blue
    slot's daemon runs; and the next deploy ends with the green one serving, the blue one stopped."""
    assert host.deploy(pm2(host)).returncode == 0
    after = pm2(host, log_files=("/var/log/mivaa/app.log",))
    copies = tmp_path_factory.mktemp("copies")
    counting = host.copy_to(copies / "count")
    assert counting.deploy(after, inject=(10**6, "kill")).returncode == 0
    problems = []
    for step in range(1, counting.count() + 1):
        copy = host.copy_to(copies / str(step))
        copy.deploy(after, inject=(step, mode))
        where = f"{mode} at step {step} ({copy.injected() or 'never reached'})"
        if copy.active()[0] == "blue" and BLUE not in copy.running():
            problems.append(f"{where}: blue is active and its daemon is down")
        again = copy.deploy(after)
        if again.returncode != 0 or copy.active()[0] != "green" or BLUE in copy.running() \
                or GREEN not in copy.running():
            problems.append(f"{where}: the next deploy left {copy.active()}, {sorted(copy.running())}:\n"
                            f"{again.stdout}{again.stderr}")
    assert problems == []


@pytest.mark.parametrize("mode", ["kill", "fail"])
def test_a_move_off_the_daemon_of_both_slots_stopped_at_any_step_never_stops_it_while_it_serves(
        host: DeployHost, mode: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Round 30: the first deploy off the daemon of both slots, killed before its switch, left the green
    slot's record; the next deploy's repair stopped that slot "leaving", which took the daemon of both
    slots, the serving blue slot's, with it: nothing served if green then failed. Stopped at each step,
    then a next deploy that fails to start its slot: blue serves on under that daemon; then one that
    succeeds: green serves under its own, and the daemon of both slots is gone."""
    shared_daemon_serving(host)
    host.commit("v2")
    copies = tmp_path_factory.mktemp("copies")
    counting = host.copy_to(copies / "count")
    assert counting.deploy(pm2(host), inject=(10**6, "kill")).returncode == 0
    problems = []
    for step in range(1, counting.count() + 1):
        copy = host.copy_to(copies / str(step))
        copy.deploy(pm2(host), inject=(step, mode))
        where = f"{mode} at step {step} ({copy.injected() or 'never reached'})"
        if copy.active()[0] != "blue":
            continue  # switched: the shared daemon's leaving is the deploy's own business, checked above
        (copy.tmp / "pm2-start-fails").touch()
        failed = copy.deploy(pm2(host))
        # Whichever slot is active then (a repair adopts green where the stopped deploy had switched to it),
        # the daemon that runs it runs.
        serving = {"blue": SHARED, "green": GREEN}[copy.active()[0]]
        if serving not in copy.running():
            problems.append(f"{where}: after a next deploy that failed ({failed.returncode}), active "
                            f"{copy.active()}, running {sorted(copy.running())}")
        (copy.tmp / "pm2-start-fails").unlink()
        again = copy.deploy(pm2(host))
        if again.returncode != 0 or copy.active()[0] != "green" or SHARED in copy.running():
            problems.append(f"{where}: then {copy.active()}, {sorted(copy.running())}:\n{again.stdout}{again.stderr}")
    assert problems == []


def test_the_watchdog_restarts_an_instance_under_the_daemon_that_runs_it(host: DeployHost) -> None:
    """Round 30 (low): until a deploy moved the slot to a daemon of its own, the watchdog asked that daemon,
    not running, to restart the instance: pm2 started a daemon of its own, and restarted nothing."""
    plan = pm2(host)
    script = host.tmp / "restart"
    script.write_text("set -euo pipefail\n" + service_header(plan, "nginx") + shell("common.sh")
                      + runtime_of("pm2").script + 'restart_instance blue 0\nreport_unit blue\n')
    shared_daemon_serving(host)
    before = len(host.calls())
    done = subprocess.run(["bash", str(script)], env=host.environment(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pm2 /var/lib/stackyard/mivaa/pm2 restart mivaa-blue-0" in host.calls()[before:]
    assert done.stdout.strip() == SHARED
    host.commit("v2")
    assert host.deploy(pm2(host)).returncode == 0  # green, under its own daemon now
    script.write_text(script.read_text().replace("blue", "green"))
    before = len(host.calls())
    done = subprocess.run(["bash", str(script)], env=host.environment(), capture_output=True, text=True)
    assert "pm2 /var/lib/stackyard/mivaa/pm2/green restart mivaa-green-0" in host.calls()[before:]
    assert done.stdout.strip() == GREEN
    assert not [v for v in host.violations() if "daemon of its own" in v]
