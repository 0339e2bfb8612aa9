"""Who holds a port, read the way the scripts read it, against real sockets and the real `ss`.

A process names itself (prctl(PR_SET_NAME), 15 bytes), and `ss -p` prints that name inside its
users:(("name",pid=N,fd=M)) field: a name such as `",pid=1` would put another process's pid into what a
parser reads. The scripts therefore read only ss's fixed fields (uid, inode) and find the holders in
/proc. Here a stranger (uid 65534) with such names listens; a root process is the pid it names.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.render.scripts import shell

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ss") is None or shutil.which("setpriv") is None,
                                reason="needs root (a process of another user), ss and setpriv")

STRANGER = """import ctypes, os, signal, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
print(s.getsockname()[1], flush=True)
signal.pause()
"""


@pytest.fixture
def victim() -> Iterator[subprocess.Popen]:
    """A root process, stopped: a SIGCONT or a SIGKILL sent to it would show."""
    process = subprocess.Popen(["/bin/sleep", "300"])
    os.kill(process.pid, signal.SIGSTOP)
    yield process
    process.kill()
    process.wait()


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def run(tmp_path: Path, name: str, steps: str, program: str = STRANGER) -> tuple[str, subprocess.Popen]:
    """Starts PROGRAM as uid 65534 (it prints its port), then runs STEPS with PORT replaced by it."""
    stranger = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                                 "-c", program, name], cwd="/", stdout=subprocess.PIPE, text=True)
    port = stranger.stdout.readline().strip()
    script = tmp_path / "check"
    script.write_text("#!/usr/bin/env bash\nset -euo pipefail\nPORT_OWNER=root\nlog() { printf '%s\\n' \"$*\"; }\n"
                      "unheld_is_ours() { return 1; }\n"
                      + shell("common.sh") + steps.replace("PORT", port))
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, stranger


@pytest.mark.parametrize("disguise", ['",pid={victim}', '",pid={victim},fd=3', " uid:0 ", "x)) uid:0 ino:1"])
def test_a_stranger_named_like_another_pid_or_root_is_found_and_only_it_goes(disguise: str, victim: subprocess.Popen,
                                                                             tmp_path: Path) -> None:
    name = disguise.format(victim=victim.pid)[:15]
    out, stranger = run(tmp_path, name, "if owns_port PORT; then echo owned; else echo stranger; fi\n"
                                        "thaw_port_holder PORT\nevict_strangers PORT\n")
    try:
        assert out.splitlines()[0] == "stranger"
        assert f"held by pid {stranger.pid} of uid 65534, not root's: killed" in out
        assert f"pid {victim.pid} " not in out
        assert stranger.wait(timeout=5) == -signal.SIGKILL
        assert state(victim.pid) == "T"  # neither woken nor killed
    finally:
        stranger.kill()


PARKED = """import os, signal, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
port = s.getsockname()[1]
keep, other = socket.socketpair()
socket.send_fds(other, [b"x"], [s.fileno()])  # in flight: queued in the pair, held by no process's fd table
s.close()
print(port, flush=True)
signal.pause()
"""


def test_a_listening_socket_passed_away_so_that_no_process_holds_it_is_destroyed(tmp_path: Path) -> None:
    out, stranger = run(tmp_path, "", "listeners PORT all\nevict_strangers PORT\necho left; listeners PORT all\n",
                        program=PARKED)
    try:
        before, after = out.split("left\n")
        assert before.startswith("65534 ")  # it still listens, and no pid has it open
        assert "not root's: killed" not in out  # no process holds it: nothing to kill
        assert "destroyed" in out
        assert after == ""
    finally:
        stranger.kill()


def test_a_port_nobody_holds_is_nobodys_and_other_addresses_do_not_count(tmp_path: Path) -> None:
    """A stranger that answered a health check and let go of the port before the question leaves it held
    by nobody: not the service's. A stranger on 127.0.0.2 gets none of the proxy's connections to
    127.0.0.1, so beside the owner's listener it changes nothing."""
    elsewhere = STRANGER.replace('"127.0.0.1", 0', '"127.0.0.2", 0')
    out, stranger = run(tmp_path, "x", """
if owns_port PORT; then echo owned; else echo not owned; fi
python3 -c 'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", PORT)); s.listen(); time.sleep(3)' &
sleep 1
if owns_port PORT; then echo owned; else echo not owned; fi
evict_strangers PORT
kill %1
""", program=elsewhere)
    try:
        assert out.splitlines() == ["not owned", "owned"]  # and the stranger elsewhere was left alone
        assert stranger.poll() is None
    finally:
        stranger.kill()


# A stranger listening where it likes: ADDRESS as an IPv4 or IPv6 socket (V6ONLY as given), on PORT.
ANYWHERE = """import signal, socket, sys
family, address, port, v6only = sys.argv[1].split()
s = socket.socket(socket.AF_INET6 if family == "6" else socket.AF_INET)
if family == "6":
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
s.bind((address, int(port)))
s.listen()
print(port, flush=True)
signal.pause()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_ipv6_socket_that_takes_ipv4_is_counted_beside_an_owner_that_takes_none(tmp_path: Path) -> None:
    """[::ffff:0.0.0.0] takes the proxy's connections to 127.0.0.1; a v6only [::] of the owner takes none."""
    port = free_port()
    out, stranger = run(tmp_path, f"6 ::ffff:0.0.0.0 {port} 0", """
python3 -c 'import socket, time; s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); s.bind(("::", PORT)); s.listen(); time.sleep(3)' &
sleep 1
python3 -c 'import socket; socket.create_connection(("127.0.0.1", PORT), 2); print("reached")'
if owns_port PORT; then echo owned; else echo not owned; fi
evict_strangers PORT
kill %1
""", program=ANYWHERE)
    try:
        assert "reached" in out.splitlines()  # the proxy's connections to 127.0.0.1 land on the stranger
        assert "not owned" in out.splitlines()
        assert f"held by pid {stranger.pid} of uid 65534, not root's: killed" in out
    finally:
        stranger.kill()


def test_a_parked_socket_on_the_proxys_address_goes_even_when_the_owner_listens_elsewhere(tmp_path: Path) -> None:
    """The owner lost 127.0.0.1 to a stranger but listens on ::1 (an app that binds both); the stranger's
    socket, passed away from every process, is destroyed, and the owner's on ::1 stays."""
    out, stranger = run(tmp_path, "", """
python3 -c 'import socket, time; s = socket.socket(socket.AF_INET6); s.bind(("::1", PORT)); s.listen(); time.sleep(3)' &
sleep 1
evict_strangers PORT
echo left; listeners PORT all
kill %1
""", program=PARKED)
    try:
        assert "destroyed" in out
        after = out.split("left\n")[1].splitlines()
        assert len(after) == 1 and after[0].startswith("0 ") and " [::1]:" in after[0], after
    finally:
        stranger.kill()


# What `docker ps` lists (project, then ports) for each case, PORT the port asked about; whether it is ours.
DOCKER_SAYS = {
    "our slot's running container publishes it": ("x-blue 127.0.0.1:PORT->8000/tcp", True),
    "on every address, beside another port": ("x-green 127.0.0.1:9999->1/tcp, 0.0.0.0:PORT->8000/tcp", True),
    "another project's container port is PORT": ("other-blue 0.0.0.0:32768->PORT/tcp", False),
    "our slot publishes it as a container port only": ("x-blue 127.0.0.1:10000->PORT/tcp", False),
    "another project publishes it": ("x-web-blue 127.0.0.1:PORT->8000/tcp", False),
    "nothing runs": ("", False),
}


@pytest.mark.parametrize("docker_says", DOCKER_SAYS)
def test_on_compose_a_port_nobody_holds_is_the_services_only_while_docker_forwards_it(docker_says: str,
                                                                                        tmp_path: Path) -> None:
    """Without Docker's userland proxy nothing listens on a published port; a stopped container's port,
    though, is anyone's to take, and one that answered a check and let go of it must not pass."""
    port = free_port()
    listing, ours = DOCKER_SAYS[docker_says]
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "docker").write_text(f'#!/bin/sh\necho "$*" > "{tmp_path}/asked"\n'
                                 f"printf '%s\\n' '{listing.replace('PORT', str(port))}'\n")
    (stub / "docker").chmod(0o755)
    script = tmp_path / "check"
    script.write_text("#!/usr/bin/env bash\nset -euo pipefail\nSERVICE_USER=root APP=x BASE=/nonexistent\n"
                      + shell("common.sh") + shell("runtime-compose.sh")
                      + f"if owns_port {port}; then echo owned; else echo not owned; fi\n")
    done = subprocess.run(["bash", str(script)], env={"PATH": f"{stub}:/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ("owned" if ours else "not owned")
    assert (tmp_path / "asked").read_text().startswith("ps --filter status=running")
