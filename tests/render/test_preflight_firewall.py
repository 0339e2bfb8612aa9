"""The pre-flight stops an `up` whose ufw would close what a server serves today (round 30): ufw, which the
base step turns on with deny incoming, closed every port it did not open, and a server taken over with
ufw off (Ubuntu's default) lost its mail, its other app or its VPN on the first `up`, with nothing said.

Run for real: the rendered pre-flight in a network namespace of its own, with real listeners and the real
`ss`; only ufw's answer is a stub."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.render.layout import ServicePlan
from components.render.preflight import PreflightPlan, preflight_script

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("ss") is None or subprocess.run(
        ["unshare", "--net", "true"], capture_output=True).returncode != 0,
    reason="needs unshare --net (root) and ss")

LISTENER = "import socket,sys,time\nfor spec in sys.argv[1:]:\n    host, port = spec.rsplit(':', 1)\n" \
           "    s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)\n" \
           "    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n" \
           "    s.bind((host.strip('[]'), int(port))); s.listen()\n" \
           "    globals().setdefault('kept', []).append(s)\nprint('ready', flush=True)\ntime.sleep(60)\n"


def preflight(tmp: Path, plan: PreflightPlan, listeners: list[str], *, ufw: str = "Status: inactive",
              program: str = "python3") -> subprocess.CompletedProcess:
    """The pre-flight of ``plan`` in a network namespace where ``program`` listens on ``listeners``
    (address:port) and `ufw status` answers ``ufw``."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "ufw").write_text(f"#!/bin/sh\nprintf '%s\\n' {shlex.quote(ufw)}\n")
    (bin_dir / "ufw").chmod(0o755)
    runner = tmp / program  # a link: the kernel names the process after the path it ran
    runner.symlink_to(Path(sys.executable).resolve())
    (tmp / "listen.py").write_text(LISTENER)
    (tmp / "preflight").write_text(preflight_script(plan))
    # (172.30.255.1: an address of this namespace's own that is not loopback, as Docker's gateway is.)
    inner = (f'ip link set lo up; ip addr add 172.30.255.1/32 dev lo; '
             f'"$RUNNER" {tmp}/listen.py {" ".join(listeners)} > {tmp}/ready & '
             f'for _ in $(seq 100); do grep -q ready {tmp}/ready 2>/dev/null && break; sleep 0.05; done; '
             f'cd {tmp} && PATH={bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin bash {tmp}/preflight; rc=$?; kill %1; exit $rc')
    return subprocess.run(["unshare", "--net", "bash", "-c", inner], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "RUNNER": str(runner)})


def plan(**changes) -> PreflightPlan:
    return PreflightPlan(**{"system": "shop", "host": "box", "accessories": {}, "services": [], "ufw": True,
                            "open_ports": (80, 443), **changes})


def test_a_port_served_beyond_loopback_that_ufw_would_close_stops_the_up(tmp_path: Path) -> None:
    done = preflight(tmp_path, plan(), ["0.0.0.0:2525", "[::]:8443", "0.0.0.0:80", "0.0.0.0:22"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "port 2525 listens on 0.0.0.0 (python3)" in done.stderr
    assert "port 8443 listens on *" in done.stderr  # ss's word for IPv6's any address, IPv4's too
    assert "systems.shop.hosts.box.openPorts" in done.stderr and "systems.shop.hosts.box.ufw: false" in done.stderr
    assert "port 80 " not in done.stderr and "port 22 " not in done.stderr  # ufw opens those


DENYING = "Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)"
ALLOWING = "Status: active\nLogging: on (low)\nDefault: allow (incoming), allow (outgoing), disabled (routed)"
SERVICE = ServicePlan(name="web", runtime="systemd", repo="r", ref="main", command="x", port=9000, instances=1,
                      replaced_port=5000)


@pytest.mark.parametrize("case", ["listed in openPorts", "loopback only", "ufw already denying", "ufw: false",
                                  "the port of an app a service replaces", "the proxy on a service port"])
def test_what_ufw_opens_or_never_sees_is_no_conflict(tmp_path: Path, case: str) -> None:
    listeners, ufw, the_plan = ["0.0.0.0:2525"], "Status: inactive", plan()
    if case == "listed in openPorts":
        the_plan = plan(open_ports=(80, 443, 2525))
    elif case == "loopback only":
        listeners = ["127.0.0.1:2525", "[::1]:2526", "[::ffff:127.0.0.1]:2527"]
    elif case == "ufw already denying":
        ufw = DENYING
    elif case == "ufw: false":
        the_plan = plan(ufw=False)
    elif case == "the port of an app a service replaces":
        # (the deploy stops it once its service serves; its own check passes a port of its own)
        listeners, the_plan = ["0.0.0.0:5000"], plan(services=[SERVICE])
    else:  # stackyard's proxy listens on a service port on one address (Docker's gateway, for containers)
        listeners, the_plan = ["172.30.255.1:9000"], plan(services=[SERVICE])
    done = preflight(tmp_path, the_plan, listeners, ufw=ufw)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("case", ["ufw on, allowing incoming", "another server on a service port"])
def test_what_ufw_would_close_all_the_same_is_a_conflict(tmp_path: Path, case: str) -> None:
    """Round 31: ufw on with incoming allowed by default passed the check, and the base step's `ufw default
    deny incoming` closed everything; a server on every address of a service's port passed as the proxy's."""
    if case == "ufw on, allowing incoming":
        done = preflight(tmp_path, plan(), ["0.0.0.0:2525"], ufw=ALLOWING)
    else:
        done = preflight(tmp_path, plan(services=[SERVICE]), ["0.0.0.0:9000"])
    assert done.returncode == 1 and "listens on 0.0.0.0" in done.stderr, done.stdout + done.stderr


def test_a_process_name_is_only_ever_text(tmp_path: Path) -> None:
    """Any user names their own processes: the name reaches the message, never a shell."""
    done = preflight(tmp_path, plan(), ["0.0.0.0:2525"], program="$(touch pwn)")
    assert done.returncode == 1
    assert "($(touch pwn" in done.stderr  # (ss reads the name up to its first ')')
    assert not (tmp_path / "pwn").exists()
