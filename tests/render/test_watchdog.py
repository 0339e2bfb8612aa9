"""The watchdog script, run for real by bash in a scratch root, with stubs for what it asks of the host.

curl answers each instance port from a script of results ("ok" or "fail", then "ok" for ever once
the script runs out, or "fail" for ever after "fail*"); systemctl, ss, journalctl and the report's
other tools log their calls. The tests run the watchdog as its timer would, one run at a time, and
pin what matters: only the failing instance is restarted, only after enough failures in a row, the
restart is verified, a report follows a restart that did not help, and the restarts stop at the limit.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from components.model.host_layout import Paths
from components.render.layout import ServicePlan
from components.render.watchdog import watchdog_script

STUBS = {
    "systemctl": '#!/bin/sh\necho "systemctl $*" >> "$STUB/calls.log"\n',
    "journalctl": '#!/bin/sh\necho "journal lines"\n',
    # The socket listening on the port: its uid in $STUB/listener-uid (ss shows none for root's sockets),
    # its inode in $STUB/listener-ino: a real socket of a real process (listen() below), which the
    # script finds in /proc.
    "ss": '#!/bin/bash\nuid=$(cat "$STUB/listener-uid" 2>/dev/null) && uid=" uid:$uid"\nport=${*: -1}\n'
          'ino=$(cat "$STUB/listener-ino" 2>/dev/null || echo 1)\n'
          'echo "LISTEN 0 128 127.0.0.1:${port##*:} 0.0.0.0:*$uid ino:$ino sk:1 cgroup:/system.slice/x.service <->"\n',
    # The service's user is 4242 (and root is 0).
    "id": '#!/bin/sh\nif [ "$2" = root ]; then echo 0; else echo 4242; fi\n',
    "sleep": "#!/bin/sh\nexit 0\n",
    # Compose: the container of an instance, and the host pids of its processes ($STUB/container-pids).
    "docker": """#!/bin/sh
echo "docker $*" >> "$STUB/calls.log"
case "$*" in
  *" ps --quiet "*) echo c0ffee ;;
  "top c0ffee -o pid") echo PID; cat "$STUB/container-pids" ;;
esac
""",
    "curl": """#!/usr/bin/env bash
url=${*: -1}
port=${url#http://127.0.0.1:}; path=/${port#*/}; port=${port%%/*}
echo "curl $port $path" >> "$STUB/calls.log"
script="$STUB/health-$port"
result=ok
if [ -s "$script" ]; then
  result=$(head -n 1 "$script")
  if [ "$result" != "fail*" ]; then sed -i 1d "$script"; fi
fi
if [ "$result" = ok ]; then printf 200; else printf 503; fi
""",
}


class Host:
    def __init__(self, tmp: Path, runtime: str = "systemd") -> None:
        self.tmp = tmp
        self.paths = Paths(srv=str(tmp / "srv"), var=str(tmp / "var"), etc=str(tmp / "etc"))
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for name, text in STUBS.items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        self.plan = ServicePlan(name="mivaa", runtime=runtime, repo="r", ref="main", command="true", port=8000,
                                instances=2, health_retries=3, paths=self.paths, watchdog_paths=("/health", "/docs"),
                                watchdog_failures=2, watchdog_restarts=2)
        if runtime != "compose":  # the service's own processes hold its ports (compose: root's docker-proxy)
            (tmp / "listener-uid").write_text("4242\n")
        self.script = tmp / "watchdog"
        self.script.write_text(watchdog_script(self.plan))
        Path(self.paths.app("mivaa")).mkdir(parents=True)

    def serving(self, color: str) -> None:
        (Path(self.paths.app("mivaa")) / "active").write_text(f"{color} {'a' * 40} settings\n")

    def answers(self, port: int, *results: str) -> None:
        (self.tmp / f"health-{port}").write_text("".join(f"{r}\n" for r in results))

    def run(self) -> str:
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "STUB": str(self.tmp)}
        done = subprocess.run(["bash", str(self.script)], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def calls(self) -> list[str]:
        path = self.tmp / "calls.log"
        lines = path.read_text().splitlines() if path.exists() else []
        path.unlink(missing_ok=True)
        return lines

    def restarts(self, calls: list[str]) -> list[str]:
        return [c for c in calls if c.startswith("systemctl restart") or " restart " in c]


def listen(host: Host) -> subprocess.Popen:
    """A process holding a listening socket, whose inode the stubbed ss reports."""
    process = subprocess.Popen(
        ["/usr/bin/python3", "-c", "import os, signal, socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\n"
         "s.listen()\nprint(os.fstat(s.fileno()).st_ino, flush=True)\nsignal.pause()"],
        stdout=subprocess.PIPE, text=True)
    (host.tmp / "listener-ino").write_text(process.stdout.readline())
    return process


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def test_a_port_another_user_holds_is_no_healthy_instance_and_the_stranger_goes(host: Host) -> None:
    """Another user's process answers on a serving port (it took the port while the instance restarted):
    a failed check at once, and the stranger is killed; then the instance is restarted and reported like
    any other, never counted healthy while the stranger holds its port."""
    stranger = listen(host)
    (host.tmp / "listener-uid").write_text("65534\n")
    host.serving("blue")
    first = host.run()
    assert "instance 9000 failed its check (1 in a row): the port is held by a process that is not " \
           "svc-mivaa's" in first
    assert f"port 9000 is held by pid {stranger.pid} of uid 65534, not svc-mivaa's: killed" in first
    assert stranger.wait(timeout=5) == -signal.SIGKILL
    second = host.run()
    assert "restarting instance 9000" in second
    assert "--- last answer: the port is held by a process that is not svc-mivaa's" in second


def test_a_stranger_that_fails_the_watchdogs_checks_is_evicted_all_the_same(host: Host) -> None:
    """It tells the watchdog's requests apart, fails them, and serves the proxy's: it goes at the first run,
    and is never woken (thawed) as the instance would be."""
    stranger = listen(host)
    os.kill(stranger.pid, signal.SIGSTOP)
    (host.tmp / "listener-uid").write_text("65534\n")
    host.serving("blue")
    host.answers(9000, "fail*")
    first = host.run()
    assert "instance 9000 failed its check (1 in a row): the port is held by a process that is not " \
           "svc-mivaa's" in first
    assert f"port 9000 is held by pid {stranger.pid} of uid 65534, not svc-mivaa's: killed" in first
    assert stranger.wait(timeout=5) == -signal.SIGKILL


def test_root_or_the_service_holding_its_port_is_never_killed(host: Host) -> None:
    own = listen(host)
    host.serving("blue")
    try:
        for uid in ("4242", None):  # the service's user; root (ss shows no uid)
            if uid is None:
                (host.tmp / "listener-uid").unlink()
            out = host.run()
            assert "killed" not in out
            assert own.poll() is None
    finally:
        own.kill()
        own.wait()


def test_nothing_is_checked_before_the_first_deploy(host: Host) -> None:
    assert host.run() == ""
    assert host.calls() == []


def test_every_path_of_every_instance_of_the_serving_slot_is_checked(host: Host) -> None:
    host.serving("green")
    host.run()
    assert host.calls() == ["curl 10000 /health", "curl 10000 /docs", "curl 10001 /health", "curl 10001 /docs"]


def test_a_hung_instance_is_restarted_alone_after_enough_failures_then_verified(host: Host) -> None:
    frozen = listen(host)
    os.kill(frozen.pid, signal.SIGSTOP)
    host.serving("blue")
    host.answers(9000, "ok", "fail", "fail", "ok", "ok")  # /health, then /docs fails twice, then it is back
    first = host.run()
    assert "instance 9000 failed its check (1 in a row): /docs: HTTP 503" in first
    assert host.restarts(host.calls()) == []  # one failure is not enough
    second = host.run()
    calls = host.calls()
    assert host.restarts(calls) == ["systemctl restart stackyard-mivaa-blue@9000.service"]
    # A frozen process is thawed so that it can take the restart's stop signal.
    assert Path(f"/proc/{frozen.pid}/stat").read_text().split()[2] != "T"
    frozen.kill()
    frozen.wait()
    assert "instance 9000 answers again after the restart" in second
    assert "diagnostic report" not in second
    host.run()
    assert host.restarts(host.calls()) == []  # its counters start again from zero


def test_a_frozen_container_is_thawed_from_inside_then_restarted_alone(tmp_path: Path) -> None:
    """A container's port is held by docker-proxy: the app to thaw is found in the container itself."""
    host = Host(tmp_path, runtime="compose")
    frozen = subprocess.Popen(["/bin/sleep", "300"])
    os.kill(frozen.pid, signal.SIGSTOP)
    (host.tmp / "container-pids").write_text(f"{frozen.pid}\n")
    host.serving("green")
    host.answers(10000, "fail", "fail")
    host.run()
    assert host.restarts(host.calls()) == []
    second = host.run()
    calls = host.calls()
    (restart,) = host.restarts(calls)
    assert restart.startswith("docker compose --project-name mivaa-green ")
    assert restart.endswith(" restart --timeout 10 mivaa-0")
    assert calls.index(restart) > calls.index("docker top c0ffee -o pid")  # thawed first
    assert Path(f"/proc/{frozen.pid}/stat").read_text().split()[2] != "T"
    frozen.kill()
    frozen.wait()
    assert "instance 10000 answers again after the restart" in second


def test_restarts_that_do_not_help_are_reported_and_stop_at_the_limit(host: Host) -> None:
    host.serving("blue")
    host.answers(9001, "fail*")
    out = "".join(host.run() for _ in range(8))
    restarts = [c for c in (Path(host.tmp) / "calls.log").read_text().splitlines() if c.startswith("systemctl restart")]
    assert restarts == ["systemctl restart stackyard-mivaa-blue@9001.service"] * 2
    assert out.count("=== stackyard watchdog: diagnostic report for mivaa instance 9001 (blue slot) ===") == 2
    for section in ("--- unit", "--- recent logs", "--- listening ports", "--- memory", "--- disk", "--- load"):
        assert out.count(section) == 2, section
    assert out.count("2 restarts did not bring it back; no more restarts until it answers again") == 1
    assert "9000" not in "".join(restarts)  # the healthy instance is never touched


def test_an_instance_that_answers_again_gets_its_restarts_back(host: Host) -> None:
    host.serving("blue")
    host.answers(9000, *["fail"] * 12)
    for _ in range(6):
        host.run()
    assert len(host.restarts(host.calls())) == 2
    (host.tmp / "health-9000").write_text("")  # the database came back: healthy from now on
    assert "instance 9000 healthy again" in host.run()
    host.answers(9000, *["fail"] * 12)
    for _ in range(2):
        host.run()
    assert len(host.restarts(host.calls())) == 1


@pytest.mark.parametrize("serving_runtime", ["systemd", "pm2"])
def test_a_slot_another_runtime_serves_is_left_alone_until_the_switch(tmp_path: Path, serving_runtime: str) -> None:
    """A move to compose: the setup step writes the compose watchdog (root's ports) before the deploy, while
    the old runtime's slot still serves as the service's user. The watchdog took it for a stranger and
    killed it at its first run, every 30 s while the move had not switched. Not touched now, nor restarted;
    a record of compose's own is watched again."""
    host = Host(tmp_path, runtime="compose")
    own = listen(host)
    (host.tmp / "listener-uid").write_text("4242\n")
    (Path(host.paths.app("mivaa")) / "active").write_text(f"blue {'a' * 40} settings release {serving_runtime}\n")
    try:
        for _ in range(3):
            out = host.run()
            assert f"the serving blue slot is {serving_runtime}'s, not compose's" in out
            assert "killed" not in out and own.poll() is None
            assert host.restarts(host.calls()) == []
        (Path(host.paths.app("mivaa")) / "active").write_text(f"blue {'a' * 40} settings release compose\n")
        assert "killed" in host.run()
    finally:
        own.kill()
        own.wait()
