"""A service's directory that is someone else's is never taken (round 32): the user step made /srv/<name> root's
0755 and its shared/ the service's, whatever was there, so an app deployed by hand in /srv/api (a Capistrano
tree, an SQLite file) lost its writes before anything of stackyard served, and its releases were pruned after.
Now the pre-flight names it as a conflict and the user step stops before it changes anything.

Run for real: the rendered scripts in a mount namespace whose /srv is a scratch directory."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components.render.layout import ServicePlan
from components.render.preflight import PreflightPlan, preflight_script
from components.render.provision import service_user_script

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode,
    reason="needs unshare --mount (root) for a /srv of its own")

SERVICE = ServicePlan(name="app", runtime="systemd", repo="https://example.com/app.git", ref="main", command="run")

STACKYARDS = {
    "missing": "true",
    "stackyard's": "install -d -m 0755 /srv/app /srv/app/state /srv/app/releases && echo blue > /srv/app/active",
    "root's, empty (a first run killed)": "install -d -m 0755 /srv/app",
}
FOREIGN = {
    "another user's": "install -d -o nobody /srv/app && touch /srv/app/db.sqlite3",
    "another user's, empty": "install -d -o nobody /srv/app",
    "root's, an app deployed by hand": "install -d /srv/app && touch /srv/app/app.py",
    "a Capistrano tree": "install -d /srv/app/releases/20260101 /srv/app/shared && ln -s releases/20260101 "
                         "/srv/app/current",
    "root's, its state a link": "install -d /srv/app && ln -s /etc /srv/app/state",
    "a link": "install -d /opt/theirs && ln -s /opt/theirs /srv/app",
    "a file": "touch /srv/app",
}
REPORT = "stat -c '%n %U %a' /srv/app /srv/app/* 2>/dev/null | sort"


def in_namespace(tmp: Path, before: str, script: str) -> subprocess.CompletedProcess:
    """``before`` then ``script`` (a file's text, run by bash) with /srv and /opt scratch directories; prints
    what /srv/app is after, on the last lines of stdout."""
    srv, opt = tmp / "srv", tmp / "opt"
    srv.mkdir()
    opt.mkdir()
    (tmp / "script").write_text(script)
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c",
         f"mount --bind {srv} /srv && mount --bind {opt} /opt && {before} && BEFORE=$({REPORT}) && "
         f"{{ bash {tmp}/script; echo \"rc=$?\"; }}; [ \"$({REPORT})\" = \"$BEFORE\" ] && echo unchanged"],
        capture_output=True, text=True, timeout=60)


def preflight(services=(SERVICE,)) -> str:
    return preflight_script(PreflightPlan(system="shop", host="box", accessories={}, services=list(services)))


@pytest.mark.parametrize("state", list(STACKYARDS))
def test_the_service_s_own_or_no_directory_is_no_conflict(state: str, tmp_path: Path) -> None:
    done = in_namespace(tmp_path, STACKYARDS[state], preflight())
    assert "rc=0" in done.stdout, done.stdout + done.stderr
    assert "/srv/app" not in done.stderr


@pytest.mark.parametrize("state", list(FOREIGN))
def test_someone_else_s_directory_stops_the_up_at_the_preflight_and_at_the_user_step(state: str,
                                                                                    tmp_path: Path) -> None:
    done = in_namespace(tmp_path, FOREIGN[state], preflight())
    assert "rc=1" in done.stdout, done.stdout + done.stderr
    assert "/srv/app exists and is not stackyard's: the service systems.shop.services.app would take it" in done.stderr

    # The user step, should it run without the pre-flight: it stops before it makes a user or a directory.
    (tmp_path / "again").mkdir()
    done = in_namespace(tmp_path / "again", FOREIGN[state], service_user_script(SERVICE))
    assert "rc=1" in done.stdout and done.stdout.rstrip().endswith("unchanged"), done.stdout + done.stderr
    assert "stackyard: /srv/app exists and is not stackyard's" in done.stderr


def test_a_fifo_a_user_planted_as_their_pm2_pid_holds_no_up(tmp_path: Path) -> None:
    """Round 32: the pre-flight read each /home/*/.pm2/pm2.pid with no time limit, so a FIFO there (any user's
    home is theirs) held every `up` of the host."""
    home = tmp_path / "home"
    (home / "mallory/.pm2").mkdir(parents=True)
    os.mkfifo(home / "mallory/.pm2/pm2.pid")
    (tmp_path / "preflight").write_text(preflight())
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                           f"mount --bind {home} /home && bash {tmp_path}/preflight"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_roots_pm2_in_a_directory_another_user_owns_is_not_asked_as_root(tmp_path: Path) -> None:
    """Round 38: root's PM2 with its home in a user's home (sudo pm2 keeping HOME): that user could swap the
    directory while root's pm2 read it, and root would start a daemon there. The pre-flight leaves it alone."""
    home = tmp_path / "home"
    pm2 = home / "deploy/.pm2"
    pm2.mkdir(parents=True)
    os.chown(home / "deploy", 65534, 65534)
    (pm2 / "pm2.pid").write_text(str(os.getpid()))
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "pm2").write_text(f'#!/bin/sh\necho "pm2 as $(id -u) in $PM2_HOME" >> {tmp_path}/pm2.log\necho "[]"\n')
    (stubs / "pm2").chmod(0o755)
    (tmp_path / "preflight").write_text(preflight())
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                           f"mount --bind {home} /home && PATH={stubs}:$PATH bash {tmp_path}/preflight"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "pm2.log").exists(), (tmp_path / "pm2.log").read_text()
    assert "/home/deploy/.pm2 is root's PM2 in a directory another user can change: not asked" in done.stdout
