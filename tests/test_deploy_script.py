"""The deploy script, run for real in a scratch root with a real git repository.

systemctl, nginx, curl and runuser are stubs that log their calls (curl answers from a script of
health results), so the tests can pin the order that matters: the proxy switches only after
every new instance passed its health check, and a failed check leaves the old release serving.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from components.render.deploy import deploy_script
from components.render.layout import ServicePlan

STUBS = {
    "runuser": '#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n',
    "chown": '#!/bin/sh\necho "chown $*" >> "$STUB/calls.log"\n',
    "systemctl": '#!/bin/sh\necho "systemctl $*" >> "$STUB/calls.log"\n',
    "nginx": '#!/bin/sh\necho "nginx $*" >> "$STUB/calls.log"\n',
    "sleep": "#!/bin/sh\nexit 0\n",
    # The old PM2 of a taken-over host: knows the processes listed in $STUB/pm2-processes.
    "pm2": '#!/bin/sh\necho "pm2 $PM2_HOME $*" >> "$STUB/calls.log"\n'
           'if [ "$1" = describe ]; then grep -qx "$2" "$STUB/pm2-processes"; fi\n',
    # Answers like curl -sS -w '\n%{http_code}': the port's next scripted result, then 200 for ever.
    "curl": """#!/usr/bin/env bash
url=${*: -1}
port=${url#http://127.0.0.1:}; port=${port%%/*}
echo "curl $port" >> "$STUB/calls.log"
script="$STUB/health-$port"
if [ -s "$script" ]; then
  result=$(head -n 1 "$script"); sed -i 1d "$script"
else
  result=ok
fi
if [ "$result" = ok ]; then printf '{"status":"ok"}\\n200'; else printf 'database unreachable\\n500'; fi
""",
}


class Host:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "root"
        (self.root / "srv").mkdir(parents=True)
        (self.root / "etc/stackyard/upstreams").mkdir(parents=True)
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for name, text in STUBS.items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        self.repo = tmp / "repo"
        self.git("init", "--quiet", "--initial-branch=main", str(self.repo), cwd=tmp)
        self.commit("v1")

    def git(self, *args: str, cwd: Path | None = None) -> str:
        env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
               "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}
        return subprocess.run(["git", *args], cwd=cwd or self.repo, env=env, check=True, capture_output=True,
                              text=True).stdout.strip()

    def commit(self, text: str) -> str:
        (self.repo / "app.txt").write_text(text)
        self.git("add", "app.txt")
        self.git("commit", "--quiet", "-m", text)
        return self.git("rev-parse", "HEAD")

    def script_health(self, port: int, *results: str) -> None:
        (self.tmp / f"health-{port}").write_text("".join(f"{r}\n" for r in results))

    def calls(self) -> list[str]:
        path = self.tmp / "calls.log"
        return path.read_text().splitlines() if path.exists() else []

    def deploy(self, plan: ServicePlan, ref: str | None = None) -> subprocess.CompletedProcess:
        script = self.tmp / "deploy"
        script.write_text(deploy_script(plan, "nginx"))
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "STACKYARD_ROOT": str(self.root), "STUB": str(self.tmp)}
        return subprocess.run(["bash", str(script), *([ref] if ref else [])], env=env, capture_output=True, text=True)

    @property
    def base(self) -> Path:
        return self.root / "srv/mivaa"

    def upstream(self) -> str:
        return (self.root / "etc/stackyard/upstreams/mivaa.nginx").read_text()

    def active(self) -> tuple[str, str]:
        """The serving slot and commit (the file's third field is the settings it started with)."""
        slot, sha, _settings = (self.base / "active").read_text().split()
        return slot, sha

    def env_file(self) -> Path:
        path = self.root / "etc/stackyard/mivaa.env"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def plan_for(host: Host, **changes) -> ServicePlan:
    plan = ServicePlan(name="mivaa", runtime="systemd", repo=str(host.repo), ref="main", command="true",
                       port=8000, instances=3, health_retries=4, keep_releases=2)
    return replace(plan, **changes)


def test_first_deploy_switches_only_after_every_instance_is_healthy(host: Host) -> None:
    sha = host.git("rev-parse", "HEAD")
    host.script_health(9000, "fail", "fail")  # healthy on the third try
    result = host.deploy(plan_for(host))
    assert result.returncode == 0, result.stdout + result.stderr
    calls = host.calls()
    start = calls.index("systemctl restart stackyard-mivaa-blue@9000.service stackyard-mivaa-blue@9001.service "
                        "stackyard-mivaa-blue@9002.service")
    checks = [i for i, c in enumerate(calls) if c.startswith("curl ")]
    reload = calls.index("systemctl reload nginx")
    assert start < min(checks) and max(checks) < reload
    assert [c for c in calls if c.startswith("curl")] == ["curl 9000"] * 3 + ["curl 9001", "curl 9002"]
    assert "port 9000 healthy after 3 tries" in result.stdout
    assert [line.split()[1] for line in host.upstream().splitlines() if "server" in line] == [
        "127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:9002"]
    assert host.active() == ("blue", sha)
    assert (host.base / "current").resolve() == (host.base / "releases" / sha).resolve()
    assert (host.base / "releases" / sha / "app.txt").read_text() == "v1"


def test_failed_health_check_keeps_the_old_release_serving_and_shows_the_answer(host: Host) -> None:
    first = host.git("rev-parse", "HEAD")
    assert host.deploy(plan_for(host)).returncode == 0
    before = host.upstream()
    host.commit("v2")
    host.script_health(10000, *["fail"] * 10)
    result = host.deploy(plan_for(host))
    assert result.returncode == 1
    assert "failed its health check 4 times" in result.stdout
    assert "database unreachable" in result.stderr  # the app's own answer reaches `pulumi up`
    new_calls = host.calls()[host.calls().index("systemctl reload nginx") + 1:]
    assert [c for c in new_calls if c.startswith("curl")] == ["curl 10000"] * 4  # retries as configured
    assert "systemctl reload nginx" not in new_calls
    assert any(c.startswith("systemctl disable --quiet --now stackyard-mivaa-green@10000") for c in new_calls)
    assert host.upstream() == before
    assert host.active() == ("blue", first)


def test_second_deploy_goes_to_the_other_slot_then_stops_the_old_one(host: Host) -> None:
    assert host.deploy(plan_for(host)).returncode == 0
    second = host.commit("v2")
    result = host.deploy(plan_for(host))
    assert result.returncode == 0, result.stderr
    calls = host.calls()
    last_reload = len(calls) - 1 - calls[::-1].index("systemctl reload nginx")
    stop_blue = next(i for i, c in enumerate(calls) if c.startswith("systemctl disable --quiet --now "
                                                                    "stackyard-mivaa-blue@9000"))
    assert stop_blue > last_reload  # the old slot stops only after the proxy points at the new one
    assert "127.0.0.1:10000" in host.upstream() and "127.0.0.1:9000" not in host.upstream()
    assert host.active() == ("green", second)


def test_same_ref_again_changes_nothing(host: Host) -> None:
    assert host.deploy(plan_for(host)).returncode == 0
    count = len(host.calls())
    result = host.deploy(plan_for(host))
    assert result.returncode == 0 and "already serving" in result.stdout
    assert len(host.calls()) == count


def test_rollback_is_a_deploy_of_the_previous_ref(host: Host) -> None:
    first = host.git("rev-parse", "HEAD")
    assert host.deploy(plan_for(host)).returncode == 0
    host.commit("v2")
    assert host.deploy(plan_for(host)).returncode == 0
    result = host.deploy(plan_for(host), ref=first)
    assert result.returncode == 0, result.stderr
    assert host.active() == ("blue", first)
    assert "building release" not in result.stdout  # the kept release is reused


def test_old_releases_are_pruned_to_keep(host: Host) -> None:
    shas = [host.git("rev-parse", "HEAD")]
    assert host.deploy(plan_for(host)).returncode == 0
    for text in ("v2", "v3", "v4"):
        shas.append(host.commit(text))
        assert host.deploy(plan_for(host)).returncode == 0
    kept = sorted(p.name for p in (host.base / "releases").iterdir())
    assert kept == sorted(shas[-2:])


def test_a_concurrent_deploy_is_refused(host: Host) -> None:
    (host.base).mkdir(parents=True)
    with open(host.base / ".deploy.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = host.deploy(plan_for(host))
    assert result.returncode == 75
    assert "another deploy of mivaa is running" in result.stdout


def test_unknown_ref_fails_before_touching_anything(host: Host) -> None:
    result = host.deploy(plan_for(host), ref="no-such-branch")
    assert result.returncode == 1 and "no branch or tag no-such-branch" in result.stdout
    assert host.calls() == []


def test_same_ref_with_changed_settings_restarts_in_the_other_slot(host: Host) -> None:
    host.env_file().write_text('LOG_LEVEL="info"\n')
    first = host.git("rev-parse", "HEAD")
    assert host.deploy(plan_for(host)).returncode == 0
    host.env_file().write_text('LOG_LEVEL="debug"\n')
    result = host.deploy(plan_for(host))
    assert result.returncode == 0, result.stderr
    assert "building release" not in result.stdout  # the same release, started again with its new settings
    assert host.active() == ("green", first)
    again = host.deploy(plan_for(host))
    assert "already serving" in again.stdout and host.active() == ("green", first)


def test_a_release_is_built_where_it_runs_and_a_half_built_one_is_built_again(host: Host) -> None:
    sha = host.git("rev-parse", "HEAD")
    release = host.base / "releases" / sha
    release.mkdir(parents=True)
    (release / "left-by-a-failed-build").write_text("")  # no completion marker: not a release
    plan = plan_for(host, install=("pwd > built-in.txt",))
    result = host.deploy(plan)
    assert result.returncode == 0, result.stderr
    assert "building release" in result.stdout
    assert not (release / "left-by-a-failed-build").exists()
    # Tools such as uv write absolute paths into the build: it must happen at the path it runs from.
    assert (release / "built-in.txt").read_text().strip() == str(release)
    assert (release / ".stackyard-release").exists()


def test_removal_stops_both_slots_drops_the_upstream_and_keeps_the_data(host: Host) -> None:
    from components.render.deploy import removal_script

    assert host.deploy(plan_for(host)).returncode == 0
    (host.base / "shared").mkdir()
    (host.base / "shared" / "uploads.db").write_text("data")
    script = host.tmp / "remove"
    script.write_text(removal_script(plan_for(host), "nginx"))
    env = {"PATH": f"{host.bin}:/usr/bin:/bin", "STACKYARD_ROOT": str(host.root), "STUB": str(host.tmp)}
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    calls = host.calls()
    for color, port in (("blue", 9000), ("green", 10000)):
        assert any(c.startswith(f"systemctl disable --quiet --now stackyard-mivaa-{color}@{port}") for c in calls)
    assert not (host.root / "etc/stackyard/upstreams/mivaa.nginx").exists()
    assert not (host.base / "active").exists()
    assert (host.base / "shared" / "uploads.db").read_text() == "data"
    assert any((host.base / "releases").iterdir())


def old_pm2(host: Host, *processes: str, alive: bool = True) -> None:
    """A PM2 daemon outside stackyard at /root/.pm2 (its pid alive or not), running ``processes``."""
    home = host.root / "root/.pm2"
    home.mkdir(parents=True)
    (home / "pm2.pid").write_text(str(os.getpid() if alive else 4_000_000))
    (host.tmp / "pm2-processes").write_text("".join(f"{p}\n" for p in processes))


def test_a_taken_over_server_stops_its_old_processes_only_once_the_new_release_serves(host: Host) -> None:
    old_pm2(host, "flask-backend", "other-app")
    plan = plan_for(host, legacy_port=5000, legacy_pm2=("flask-backend",), legacy_units=("flask.service",))
    result = host.deploy(plan)
    assert result.returncode == 0, result.stderr
    calls = host.calls()
    reload = calls.index("systemctl reload nginx")
    delete = calls.index("pm2 /root/.pm2 delete flask-backend")
    assert reload < delete < calls.index("pm2 /root/.pm2 save --force")
    assert reload < calls.index("systemctl disable --quiet --now flask.service")
    assert not any("other-app" in c for c in calls if "describe" not in c)  # only what the stack names
    assert "stopped the old PM2 process flask-backend" in result.stdout
    calls_before = len(host.calls())
    assert host.deploy(plan).returncode == 0  # the same release again: nothing is touched
    assert not any(c.startswith("pm2") for c in host.calls()[calls_before:])


def test_a_failed_first_deploy_leaves_the_old_processes_serving(host: Host) -> None:
    old_pm2(host, "flask-backend")
    host.script_health(9000, *["fail"] * 10)
    result = host.deploy(plan_for(host, legacy_port=5000, legacy_pm2=("flask-backend",)))
    assert result.returncode == 1
    assert not any(c.startswith("pm2") for c in host.calls())


def test_an_old_pm2_daemon_that_is_not_running_is_not_started(host: Host) -> None:
    old_pm2(host, "flask-backend", alive=False)
    result = host.deploy(plan_for(host, legacy_port=5000, legacy_pm2=("flask-backend",)))
    assert result.returncode == 0, result.stderr
    assert not any(c.startswith("pm2") for c in host.calls())  # any pm2 command would start the daemon


def test_a_taken_over_worker_stops_the_old_one_before_the_new_one_starts(host: Host) -> None:
    old_pm2(host, "podfactory-sync")
    result = host.deploy(plan_for(host, port=None, instances=1, legacy_pm2=("podfactory-sync",)))
    assert result.returncode == 0, result.stderr
    calls = host.calls()
    start = next(i for i, c in enumerate(calls) if c.startswith("systemctl restart stackyard-mivaa-blue"))
    assert calls.index("pm2 /root/.pm2 delete podfactory-sync") < start  # never two sync jobs at once


def test_the_proxy_routes_to_the_old_process_until_the_first_deploy() -> None:
    from components.render.proxy import upstream_file

    plan = ServicePlan(name="flask", runtime="pm2", repo="r", ref="main", port=5100, legacy_port=5000)
    assert upstream_file(plan, "nginx") == "upstream stackyard_flask {\n    server 127.0.0.1:5000 max_fails=0;\n}\n"
    assert upstream_file(plan, "caddy") == "reverse_proxy 127.0.0.1:5000\n"
