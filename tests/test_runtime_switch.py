"""A service moved to another runtime leaves nothing of the old one running: its serving slot belonged to
the old runtime, whose scripts are no longer rendered, so the deploy that switches away from that slot (and
a removal) stops what any other runtime runs of it: systemd units, the PM2 daemon, compose containers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.render.deploy import service_header
from components.render.layout import Paths, ServicePlan
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
           "pm2": ["stackyard-api-pm2.service"], "compose": []}


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


def test_stopping_a_failed_new_slot_never_stops_the_old_pm2_that_serves(tmp_path: Path) -> None:
    """Moved from PM2 to systemd, the new slot failed its health check and was stopped: the old PM2 daemon,
    which held the serving slot's processes too, went with it (the sixteenth review). Only a slot the
    service is leaving takes the daemon."""
    running, _, calls = run_stop(tmp_path, "systemd", ["stackyard-api-pm2.service"], "",
                                 "stop_other_runtimes green", color="green")
    assert "stackyard-api-pm2.service" in running, calls
