"""A scratch host for the deploy script: a real git repository, real files, stubbed services.

The script runs for real in a scratch root (``STACKYARD_ROOT``). systemctl, nginx, curl, runuser, chown,
pm2, ss and id are stubs that log their calls and keep the state a real host would: which units run, what
nginx has loaded. curl answers a port only if a running unit listens on it (and then from a script of
health results, if one is set). At every stub call, and at the end, the stubs check the invariant a
fixed load would see: every port of the upstream nginx has loaded is served by a running unit.

Failures are injected by count: with ``inject=(k, mode)`` the k-th stubbed or wrapped call (mv, ln,
cp, rm, ... are wrapped: counted, then run for real) either kills the whole deploy with SIGKILL
(``kill``) or fails (``fail``), so a test can stop the script after each of its steps in turn.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

from components.render.deploy import deploy_script, removal_script, staged_path
from components.render.layout import ServicePlan
from components.render.proxy import upstream_file
from components.render.runtimes import definition_path, runtime_of
from components.render.runtimes.systemd import systemd_unit
from components.render.watchdog import watchdog_script

INJECT = """inject() {
  [ -n "${STUB_AT:-}" ] || return 0
  local n
  n=$(( $(cat "$STUB/count" 2>/dev/null || echo 0) + 1 ))
  echo "$n" > "$STUB/count"
  if [ "$n" = "$STUB_AT" ]; then
    echo "$STUB_NAME $*" > "$STUB/injected"
    if [ "$STUB_MODE" = kill ]; then kill -KILL 0; sleep 5; fi
    exit 1
  fi
}
# Every port nginx has loaded must be served by a running unit: what a fixed load would see.
check_invariant() {
  local port
  [ -f "$STUB/loaded" ] || return 0
  for port in $(grep -o '127\\.0\\.0\\.1:[0-9]*' "$STUB/loaded" | cut -d: -f2); do
    if ! ls "$STUB/running/" 2>/dev/null | grep -q "@$port\\.service$"; then
      echo "$STUB_NAME $*: nginx routes to $port, which nothing serves" >> "$STUB/violations"
    fi
  done
}
"""

STUBS = {
    "runuser": 'while [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n',
    "chown": 'echo "chown $*" >> "$STUB/calls.log"\n',
    "systemctl": """echo "systemctl $*" >> "$STUB/calls.log"
action=$1; shift
units=(); for a in "$@"; do case $a in -*) ;; *) units+=("$a") ;; esac; done
# As systemd: an instance of a template whose unit file is not installed cannot be started, enabled or
# disabled (a slot never prepared has none), and the whole command fails.
case $action in restart|start|enable|disable)
  for u in "${units[@]}"; do
    if [[ $u == stackyard-*@*.service ]] && [ ! -f "$STUB_ROOT/etc/systemd/system/${u%@*}@.service" ]; then
      echo "Failed to $action unit: Unit file $u does not exist." >&2; exit 1
    fi
  done ;;
esac
case $action in
  is-active) [ -e "$STUB/running/${units[0]}" ]; exit ;;
  list-units) for u in $(/usr/bin/ls "$STUB/running/" 2>/dev/null); do
      for pattern in "${units[@]}"; do
        # shellcheck disable=SC2053
        if [[ $u == $pattern ]]; then echo "$u loaded active running stub"; fi
      done
    done ;;
  restart|start) for u in "${units[@]}"; do /usr/bin/touch "$STUB/running/$u"; done ;;
  stop) for u in "${units[@]}"; do /usr/bin/rm -f "$STUB/running/$u"; done ;;
  disable) if [[ " $* " == *" --now "* ]]; then
      for u in "${units[@]}"; do /usr/bin/rm -f "$STUB/running/$u"; done
    fi ;;
  reload) if [ "${units[0]}" = nginx ]; then
      /usr/bin/cp "$STUB_ROOT/etc/stackyard/upstreams/mivaa.nginx" "$STUB/loaded"
    fi ;;
esac
check_invariant "$action" "$@"
""",
    "nginx": 'echo "nginx $*" >> "$STUB/calls.log"\n',
    # A transient unit as systemd runs it: the command as the user, in the directory, with the env file read
    # as systemd reads it (the real one's parser: systemd-run is not run here), its output on stdout.
    "systemd-run": """dir=; envfile=; user=; set_env=()
while [ "$1" != "--" ]; do
  case $1 in --working-directory=*) dir=${1#--working-directory=} ;;
    --property=EnvironmentFile=*) envfile=${1#--property=EnvironmentFile=} ;;
    --setenv=*) set_env+=("${1#--setenv=}") ;; --uid=*) user=${1#--uid=} ;; esac
  shift
done
shift
echo "systemd-run $user ${*: -1}" >> "$STUB/calls.log"
cd "$dir" || exit 1
vars=()
if ! /usr/bin/python3 "$STUB/envfile.py" "$envfile" > "$STUB/env.out"; then exit 1; fi
mapfile -d '' vars < "$STUB/env.out"
exec /usr/bin/env -i PATH=/usr/bin:/bin "${set_env[@]}" "${vars[@]}" "$@"
""",
    "sleep": "exit 0\n",
    # The old PM2 of a taken-over host: knows the processes listed in $STUB/pm2-processes. The service's
    # own PM2 runs under its unit (a slot's PM2 home under its slot's daemon, the home of both slots of
    # before under the daemon of both): a command run with the unit down would start a daemon outside it
    # (as the real pm2 does), a violation; `save` writes the dump the unit's start resurrects.
    "pm2": 'echo "pm2 $PM2_HOME $*" >> "$STUB/calls.log"\n'
           'case $PM2_HOME in\n'
           '  /var/lib/stackyard/mivaa/pm2) daemon=stackyard-mivaa-pm2.service ;;\n'
           '  /var/lib/stackyard/mivaa/pm2/*) daemon=stackyard-mivaa-pm2@${PM2_HOME##*/}.service ;;\n'
           '  *) daemon= ;;\n'
           'esac\n'
           'if [ -n "$daemon" ] && [ "$1" != kill ] && [ ! -e "$STUB/running/$daemon" ]; then\n'
           '  echo "pm2 $*: run with its unit $daemon down, a daemon of its own" >> "$STUB/violations"\n'
           'fi\n'
           'if [ "$1" = save ]; then /usr/bin/mkdir -p "$STUB_ROOT$PM2_HOME"; : > "$STUB_ROOT$PM2_HOME/dump.pm2"; fi\n'
           'if [ "$1" = delete ] && [ -e "$STUB/pm2-delete-fails" ]; then exit 1; fi\n'
           'if [ "$1" = startOrReload ] && [ -e "$STUB/pm2-start-fails" ]; then exit 1; fi\n'
           'if [ "$1" = describe ]; then grep -qx "$2" "$STUB/pm2-processes"; fi\n',
    # Answers like curl -sS -o FILE -w '%{http_code}': nothing from a port no running unit serves; else
    # the port's next scripted result, then 200 for ever.
    "curl": """url=${*: -1}
port=${url#http://127.0.0.1:}; port=${port%%/*}
echo "curl $port" >> "$STUB/calls.log"
out=/dev/stdout
while [ $# -gt 0 ]; do if [ "$1" = -o ]; then out=$2; shift; fi; shift; done
if ! ls "$STUB/running/" | grep -q "@$port\\.service$"; then echo "curl: (7) refused" >&2; exit 7; fi
script="$STUB/health-$port"
result=ok
if [ -s "$script" ]; then result=$(head -n 1 "$script"); sed -i 1d "$script"; fi
if [ "$result" = ok ]; then printf '{"status":"ok"}' > "$out"; printf 200
else printf 'database unreachable' > "$out"; printf 500; fi
""",
}
PLAIN_STUBS = {
    # Not counted for injection (they change nothing): what listens on a port is what the real ss says
    # (a test's own listener, of another user) and, for a running unit, the service's user (uid 4242).
    "ss": """port=${*: -1}; port=${port##*:}
/usr/bin/ss "$@"
if ls "$STUB/running/" 2>/dev/null | grep -q "@$port\\.service$"; then
  echo "LISTEN 0 128 127.0.0.1:$port 0.0.0.0:* uid:4242 ino:1 sk:1 cgroup:/system.slice/x.service <->"
fi
""",
    "id": 'if [ "$1" = -u ] && [ "$2" != root ]; then echo 4242; else exec /usr/bin/id "$@"; fi\n',
}
ENV_FILE_READER = r"""
import re, sys
text = open(sys.argv[1], newline="").read()  # a carriage return in a value stays one
for name, value in re.findall(r'^([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\n', text, re.M | re.S):
    sys.stdout.write(name + "=" + re.sub(r"\\(.)", r"\1", value, flags=re.S) + "\0")
"""
"""systemd's reading of an EnvironmentFile in double quotes (components/render/quoting.py writes it)."""

WRAPPED = ("mv", "ln", "cp", "rm", "touch", "chmod", "mkdir", "git")
"""Real commands the script changes files with: counted (for injection), then run."""


class DeployHost:
    def __init__(self, tmp: Path, repo: Path | None = None) -> None:
        self.tmp = tmp
        if repo is not None:  # a copy of another host (copy_to): its stubs and files are there already
            self.repo = repo
            self.root = tmp / "root"
            self.bin = tmp / "bin"
            return
        self.root = tmp / "root"
        self.bin = tmp / "bin"
        self.bin.mkdir(parents=True)
        (self.tmp / "running").mkdir()
        (self.tmp / "inject.sh").write_text(INJECT)
        (self.tmp / "envfile.py").write_text(ENV_FILE_READER)
        for name, body in STUBS.items():
            self._stub(name, f'. "$STUB/inject.sh"\nSTUB_NAME={name}\ninject "$@"\n{body}')
        for name, body in PLAIN_STUBS.items():
            self._stub(name, body)
        for name in WRAPPED:
            self._stub(name, f'. "$STUB/inject.sh"\nSTUB_NAME={name}\ninject "$@"\nexec /usr/bin/{name} "$@"\n')
        self.repo = tmp / "repo"
        self.git("init", "--quiet", "--initial-branch=main", str(self.repo), cwd=tmp)
        self.commit("v1")

    def _stub(self, name: str, body: str) -> None:
        (self.bin / name).write_text(f"#!/usr/bin/env bash\n{body}")
        (self.bin / name).chmod(0o755)

    def git(self, *args: str, cwd: Path | None = None) -> str:
        env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
               "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}
        return subprocess.run(["/usr/bin/git", *args], cwd=cwd or self.repo, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    def commit(self, text: str) -> str:
        (self.repo / "app.txt").write_text(text)
        self.git("add", "app.txt")
        self.git("commit", "--quiet", "-m", text)
        return self.git("rev-parse", "HEAD")

    def plan(self, **changes) -> ServicePlan:
        plan = ServicePlan(name="mivaa", runtime="systemd", repo=f"file://{self.repo}", ref="main", command="true",
                           port=8000, instances=3, health_retries=4, keep_releases=2)
        return replace(plan, **changes)

    def provision(self, plan: ServicePlan) -> None:
        """What the steps before a deploy leave on the host: directories, the staged definitions, the
        upstream (first deploy: it points at the blue slot, or at what serves today)."""
        for directory in ("srv/mivaa", "etc/stackyard/upstreams", "etc/stackyard/mivaa/staged",
                          "etc/stackyard/mivaa/files", "etc/systemd/system", "var/lib/stackyard/mivaa"):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        for color in ("blue", "green"):
            self.at(staged_path(plan, color)).write_text(systemd_unit(plan, color) if plan.command else "")
        for path, (content, _mode) in runtime_of(plan.runtime).host_files(plan, plan.paths).items():
            self.at(path).write_text(content)  # PM2's daemon unit, which the setup step installs as it is
        upstream = self.root / "etc/stackyard/upstreams/mivaa.nginx"
        if plan.port is not None and not upstream.exists():
            upstream.write_text(upstream_file(plan, "nginx"))  # nginx loads it; nothing can answer before a deploy
        if not self.env_file().exists():
            self.env_file().write_text("")
        if plan.watchdog_paths:  # the setup step stages the watchdog of the stack's settings
            self.at(plan.staged_watchdog).write_text(watchdog_script(plan))

    def at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def script_health(self, port: int, *results: str) -> None:
        (self.tmp / f"health-{port}").write_text("".join(f"{r}\n" for r in results))

    def calls(self) -> list[str]:
        path = self.tmp / "calls.log"
        return path.read_text().splitlines() if path.exists() else []

    def violations(self) -> list[str]:
        path = self.tmp / "violations"
        return path.read_text().splitlines() if path.exists() else []

    def running(self) -> set[str]:
        return {p.name for p in (self.tmp / "running").iterdir()}

    def environment(self, inject: tuple[int, str] | None = None) -> dict[str, str]:
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "STACKYARD_ROOT": str(self.root), "STUB": str(self.tmp),
               "STUB_ROOT": str(self.root), "HOME": str(self.tmp)}
        if inject is not None:
            (self.tmp / "count").write_text("0")
            (self.tmp / "injected").unlink(missing_ok=True)
            env.update(STUB_AT=str(inject[0]), STUB_MODE=inject[1])
        return env

    def deploy(self, plan: ServicePlan | None = None, ref: str | None = None, *, inject: tuple[int, str] | None = None,
               proxy: str | None = "nginx") -> subprocess.CompletedProcess:
        plan = plan or self.plan()
        self.provision(plan)
        script = self.tmp / "deploy"
        script.write_text(deploy_script(plan, proxy))
        return subprocess.run(["bash", str(script), *([ref] if ref else [])], env=self.environment(inject),
                              capture_output=True, text=True, start_new_session=True, timeout=120)

    def remove(self, plan: ServicePlan | None = None) -> subprocess.CompletedProcess:
        script = self.tmp / "remove"
        script.write_text(removal_script(plan or self.plan(), "nginx"))
        return subprocess.run(["bash", str(script)], env=self.environment(), capture_output=True, text=True)

    def count(self) -> int:
        return int((self.tmp / "count").read_text())

    def injected(self) -> str:
        path = self.tmp / "injected"
        return path.read_text().strip() if path.exists() else ""

    def release(self, sha: str, plan: ServicePlan | None = None) -> Path:
        """The release directory a deploy of ``plan`` builds ``sha`` in: the commit and how it is built (the
        deploy's prepare_release, digested as the script does)."""
        script = deploy_script(plan or self.plan(), "nginx")
        start = script.index("prepare_release() {\n")
        function = script[start:script.index("\n}\n", start) + 3]
        digest = subprocess.run(["bash", "-c", f"{function}declare -f prepare_release | sha256sum | cut -c1-12"],
                                capture_output=True, text=True, check=True).stdout.strip()
        root = "-root" if runtime_of((plan or self.plan()).runtime).release_owner == "root" else ""
        return self.base / "releases" / f"{sha}-{digest}{root}"

    @property
    def base(self) -> Path:
        return self.root / "srv/mivaa"

    def upstream(self) -> str:
        return (self.root / "etc/stackyard/upstreams/mivaa.nginx").read_text()

    def loaded(self) -> str:
        return (self.tmp / "loaded").read_text()

    def active(self) -> tuple[str, str]:
        """The serving slot and commit (the file's other fields: the settings it started with, the release)."""
        slot, sha, *_ = (self.base / "active").read_text().split()
        return slot, sha

    def env_file(self) -> Path:
        path = self.root / "etc/stackyard/mivaa.env"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def definition(self, plan: ServicePlan, color: str) -> Path:
        return self.at(definition_path(plan, color))

    def snapshot(self, to: Path) -> None:
        """Copies the host (its files and its stubs' state) to ``to``: a point to go back to."""
        shutil.copytree(self.tmp, to, symlinks=True, ignore=shutil.ignore_patterns("repo"))

    def copy_to(self, tmp: Path) -> DeployHost:
        """Another host in ``tmp``, as this one is now (links in the scratch root are relative), sharing
        its repository."""
        shutil.copytree(self.tmp, tmp, symlinks=True, ignore=shutil.ignore_patterns("repo"), dirs_exist_ok=True)
        return DeployHost(tmp, repo=self.repo)

    def restore(self, snapshot: Path) -> None:
        for entry in self.tmp.iterdir():
            if entry.name == "repo":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for entry in snapshot.iterdir():
            target = self.tmp / entry.name
            if entry.is_dir() and not entry.is_symlink():
                shutil.copytree(entry, target, symlinks=True)
            else:
                shutil.copy2(entry, target, follow_symlinks=False)


def unit_ports(units: set[str]) -> set[int]:
    return {int(u.split("@")[1].split(".")[0]) for u in units if "@" in u}


__all__ = ["DeployHost", "os", "unit_ports"]
