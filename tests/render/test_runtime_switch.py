"""A service moved to another runtime leaves nothing of the old one running: its serving slot belonged to
the old runtime, whose scripts are no longer rendered, so the deploy that switches away from that slot (and
a removal) stops what any other runtime runs of it: systemd units, the slot's PM2 daemon, compose containers."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers.deploy_host import DeployHost

from components.model.host_layout import Paths
from components.render.deploy import service_header
from components.render.layout import ServicePlan
from components.render.scripts import shell

# systemd and docker as the host would answer, from what $STUB/running and $STUB/containers hold.
SYSTEMCTL = """#!/bin/bash
echo "systemctl $*" >> "$STUB/calls.log"
action=$1; shift
units=(); for a in "$@"; do case $a in -*) ;; *) units+=("$a") ;; esac; done
case $action in
  list-units) for u in $(ls "$STUB/running/"); do
      for pattern in "${units[@]}"; do
        # shellcheck disable=SC2053
        if [[ $u == $pattern ]]; then echo "$u loaded active running x"; fi
      done
    done ;;
  disable) for u in "${units[@]}"; do rm -f "$STUB/running/$u"; done ;;
esac
"""
DOCKER = """#!/bin/bash
echo "docker $*" >> "$STUB/calls.log"
if [ "$1" = ps ]; then grep -x "${*: -1}" "$STUB/containers" >/dev/null && echo 0123abcd; exit 0; fi
if [ "$1 $2 $3" = "compose --project-name $APP_COLOR" ] && [ "$4" = down ]; then : > "$STUB/containers"; fi
"""

RUNNING = {"systemd": ["stackyard-api-blue@9000.service", "stackyard-api-blue@9001.service"],
           "pm2": ["stackyard-api-pm2@blue.service"], "compose": []}
SHARED_PM2 = "stackyard-api-pm2.service"
"""The one PM2 daemon of both slots that stackyard ran before each slot had its own."""


def run_stop(tmp_path: Path, runtime: str, running: list[str], containers: str, call: str,
             color: str = "blue") -> tuple[set[str], str, str]:
    """Runs ``call`` (stop_other_runtimes ...) for a service of ``runtime`` with ``running`` units and compose
    ``containers`` on the stubbed host; returns the units still running, the containers, the calls made."""
    stub = tmp_path / "stub"
    (stub / "running").mkdir(parents=True)
    for unit in running:
        (stub / "running" / unit).touch()
    (stub / "containers").write_text(containers)
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name, text in (("systemctl", SYSTEMCTL), ("docker", DOCKER)):
        (bin_ / name).write_text(text)
        (bin_ / name).chmod(0o755)
    plan = ServicePlan(name="api", runtime=runtime, repo="r", ref="main", command="x", port=8000, instances=2,
                       paths=Paths(srv=str(tmp_path / "srv"), etc=str(tmp_path / "etc"), var=str(tmp_path / "var")))
    script = ("#!/usr/bin/env bash\nset -euo pipefail\n" + service_header(plan, "nginx") + shell("common.sh")
              + call + "\n")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env={"PATH": f"{bin_}:/usr/bin:/bin", "STUB": str(stub), "APP_COLOR": f"api-{color}"})
    assert done.returncode == 0, done.stderr
    calls = stub / "calls.log"
    return ({p.name for p in (stub / "running").iterdir()}, (stub / "containers").read_text(),
            calls.read_text() if calls.exists() else "")


def stop_others(tmp_path: Path, runtime: str, left_by: str) -> tuple[set[str], str, str]:
    running = RUNNING[left_by] + ["stackyard-api-green@10000.service"] * (runtime == "systemd")
    containers = "label=com.docker.compose.project=api-blue\n" if left_by == "compose" else ""
    return run_stop(tmp_path, runtime, running, containers, "stop_other_runtimes blue leaving")


@pytest.mark.parametrize("runtime,left_by", [("pm2", "systemd"), ("compose", "systemd"), ("systemd", "pm2"),
                                             ("compose", "pm2"), ("systemd", "compose"), ("pm2", "compose")])
def test_what_the_old_runtime_runs_of_the_slot_is_stopped(runtime: str, left_by: str, tmp_path: Path) -> None:
    running, containers, calls = stop_others(tmp_path, runtime, left_by)
    assert not (set(RUNNING[left_by]) & running), calls
    assert containers == "", calls


def test_the_service_s_own_runtime_is_left_to_its_own_stop(tmp_path: Path) -> None:
    running, _, calls = stop_others(tmp_path, "systemd", "systemd")
    assert set(RUNNING["systemd"]) <= running, calls  # stop_slot's to stop, not this
    assert "stackyard-api-green@10000.service" in running


@pytest.mark.parametrize("runtime", ["systemd", "pm2", "compose"])
def test_stopping_a_failed_new_slot_never_stops_the_old_pm2_that_serves(tmp_path: Path, runtime: str) -> None:
    """Moved from PM2 to systemd, the new slot failed its health check and was stopped: the old PM2 daemon,
    which held the serving slot's processes too, went with it (the sixteenth review). Only a slot the
    service is leaving takes the daemon of both slots; the serving slot's own daemon never goes."""
    running, _, calls = run_stop(tmp_path, runtime, [SHARED_PM2, "stackyard-api-pm2@blue.service"], "",
                                 "stop_other_runtimes green", color="green")
    assert {SHARED_PM2, "stackyard-api-pm2@blue.service"} <= running, calls


@pytest.mark.parametrize("runtime", ["systemd", "pm2", "compose"])
def test_the_daemon_of_both_slots_of_before_goes_with_the_slot_the_service_leaves(tmp_path: Path,
                                                                                  runtime: str) -> None:
    """A PM2 service deployed before each slot had a daemon of its own runs both slots under one; once the
    service leaves its slot (to the other slot's own daemon, or to another runtime), that daemon goes."""
    running, _, calls = run_stop(tmp_path, runtime, [SHARED_PM2], "", "stop_other_runtimes blue leaving")
    assert SHARED_PM2 not in running, calls



# A move between runtimes, stopped at every step of its deploy (killed, or the step failing), then the
# next deploy run as `pulumi up` would: once it ends, only the new runtime runs the service, and no pm2
# command ever ran while the service's PM2 unit was down (it would start a daemon outside the unit).
SWITCHES = {"pm2-to-systemd": ("pm2", "systemd"), "systemd-to-pm2": ("systemd", "pm2")}
OLD_UNITS = {"pm2": lambda unit: unit.startswith("stackyard-mivaa-pm2"),
             "systemd": lambda unit: unit.startswith("stackyard-mivaa-blue@")}


@pytest.fixture(scope="module", params=list(SWITCHES))
def moving(request, tmp_path_factory):
    """A host serving v1 from blue under the first runtime, v2 committed, the second runtime's plan, and how
    many steps its deploy takes. (The stubbed host serves only systemd's units: PM2 runs with no health
    path, whose check would find nothing on its ports.)"""
    before, after = SWITCHES[request.param]
    host = DeployHost(tmp_path_factory.mktemp(request.param))
    host.at("/var/lib/stackyard/mivaa").mkdir(parents=True)

    def plan(runtime: str) -> ServicePlan:
        return host.plan(runtime=runtime, **({"health_path": None} if runtime == "pm2" else {}))

    assert host.deploy(plan(before)).returncode == 0
    v2 = host.commit("v2")
    counting = host.copy_to(tmp_path_factory.mktemp("count"))
    done = counting.deploy(plan(after), inject=(10**6, "kill"))
    assert done.returncode == 0, done.stdout + done.stderr
    return host, before, plan(after), v2, counting.count()


def stopped_then_redeployed(host: DeployHost, before: str, plan: ServicePlan, v2: str, tmp: Path, step: int,
                            mode: str) -> list[str]:
    copy = host.copy_to(tmp)
    copy.deploy(plan, inject=(step, mode))
    where = f"{mode} at step {step} ({copy.injected() or 'never reached'})"
    again = copy.deploy(plan)
    if again.returncode != 0:
        return [f"{where}: the next deploy failed:\n{again.stdout}{again.stderr}"]
    problems = [f"{where}: {v}" for v in copy.violations() if "daemon of its own" in v]
    if copy.active() != ("green", v2):
        problems.append(f"{where}: active is {copy.active()}")
    left = sorted(unit for unit in copy.running() if OLD_UNITS[before](unit))
    if left:
        problems.append(f"{where}: the old runtime still runs {left}")
    return problems


@pytest.mark.parametrize("mode", ["kill", "fail"])
def test_a_runtime_switch_stopped_at_any_step_leaves_only_the_new_runtime_once_the_next_deploy_ends(
        moving, mode: str, tmp_path: Path) -> None:
    """The seventeenth review: moved off PM2, a deploy killed between the switch and the stop of what PM2
    ran left the PM2 unit enabled and running for good (the next deploy's repair stopped the slot without
    "leaving"), holding the blue ports. And a repair's stop of a PM2 slot ran pm2 with its unit down."""
    host, before, plan, v2, steps = moving
    assert steps > 30
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = pool.map(lambda step: stopped_then_redeployed(host, before, plan, v2, tmp_path / str(step), step,
                                                              mode), range(1, steps + 1))
        problems = [problem for each in found for problem in each]
    assert problems == []


def test_a_move_to_compose_with_the_commit_unchanged_never_takes_the_serving_release(tmp_path: Path) -> None:
    """Compose makes its release root's before it builds (inside_release). A systemd or PM2 service moved to
    compose with the same commit and build steps had the same release id: the compose deploy made the
    serving slot's release root's and read-only to the process running from it, even when it then failed,
    and nothing gave it back (round 27). A release that becomes root's has an id of its own."""
    from helpers.deploy_host import DeployHost

    host = DeployHost(tmp_path)
    systemd = host.plan()
    assert host.deploy(systemd).returncode == 0
    serving = host.release(host.git("rev-parse", "HEAD"), systemd)
    host.deploy(host.plan(runtime="compose", command=None))
    assert not [c for c in host.calls() if c.split()[:4] == ["chown", "-R", "root:root", str(serving)]]
