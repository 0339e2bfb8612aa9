"""A throwaway OpenSSH server on 127.0.0.1 for tests that run remote commands for real.

`LoopbackSshd().start()` makes a host key and a client key in a temporary directory, starts
`sshd -D` on a free loopback port with key-only root login, and waits until it answers. `stop()`
(also run at interpreter exit) stops that process, by its PID, and removes the directory. It needs
root and Debian's openssh-server (`make system-deps` installs it); `sshd_fixture()` skips, saying
which, where they are missing.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .throwaway import Reaper, server_fixture

SSHD = Path("/usr/sbin/sshd")
PRIVSEP = Path("/run/sshd")
"""sshd refuses to start without its privilege separation directory; Debian's unit makes it at boot."""


class SshdUnavailable(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackSshd:
    user = "root"
    host = "127.0.0.1"

    def __init__(self) -> None:
        if not SSHD.exists():
            raise SshdUnavailable(f"{SSHD} not found: make system-deps installs openssh-server")
        if os.geteuid() != 0:
            raise SshdUnavailable("a loopback sshd that logs in as root needs root")
        self.dir: Path | None = None
        self.process: subprocess.Popen | None = None
        self.port = 0
        self._made_privsep = False
        self._reaper: Reaper | None = None

    def _keygen(self, name: str) -> Path:
        assert self.dir is not None
        path = self.dir / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True)
        return path

    def start(self) -> LoopbackSshd:
        self.dir = Path(tempfile.mkdtemp(prefix="stackyard-sshd-"))
        atexit.register(self.stop)
        host_key = self._keygen("host_key")
        client = self._keygen("client_key")
        (self.dir / "authorized_keys").write_text(client.with_suffix(".pub").read_text())
        if not PRIVSEP.exists():
            PRIVSEP.mkdir(mode=0o755)
            self._made_privsep = True
        for _ in range(3):
            self.port = free_port()
            config = self.dir / "sshd_config"
            config.write_text(
                f"ListenAddress {self.host}:{self.port}\nHostKey {host_key}\n"
                f"AuthorizedKeysFile {self.dir}/authorized_keys\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                f"PidFile {self.dir}/sshd.pid\nLogLevel VERBOSE\n")
            self.process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)],
                                            stderr=open(self.dir / "sshd.log", "w"))  # noqa: SIM115
            if self._wait():
                # Stopped even when this test process is killed before stop() runs.
                self._reaper = Reaper(["sh", "-c", 'kill "$1"; rm -rf "$0"', str(self.dir), str(self.process.pid)])
                return self
            self.process.kill()
            self.process.wait()
        raise RuntimeError(f"sshd did not start: {(self.dir / 'sshd.log').read_text()[-2000:]}")

    def _wait(self) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            if self.run("true", check=False).returncode == 0:
                return True
            time.sleep(0.1)
        return False

    @property
    def private_key(self) -> str:
        assert self.dir is not None
        return (self.dir / "client_key").read_text()

    @property
    def host_key(self) -> str:
        """The server's public host key, as a connection pins it: ``ssh-ed25519 AAAA...``."""
        assert self.dir is not None
        return " ".join((self.dir / "host_key.pub").read_text().split()[:2])

    def run(self, command: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs ``command`` on the server over SSH (as the tests' own look at the host)."""
        assert self.dir is not None
        known = self.dir / "known_hosts"
        known.write_text(f"[{self.host}]:{self.port} {(self.dir / 'host_key.pub').read_text()}")
        return subprocess.run(
            ["ssh", "-i", str(self.dir / "client_key"), "-p", str(self.port), "-o", "BatchMode=yes",
             "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5",
             f"{self.user}@{self.host}", command],
            capture_output=True, text=True, check=check, timeout=60)

    def log(self) -> str:
        assert self.dir is not None
        return (self.dir / "sshd.log").read_text(errors="replace")

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._made_privsep:
            shutil.rmtree(PRIVSEP, ignore_errors=True)
            self._made_privsep = False
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def sshd_fixture(scope: str = "module", name: str = "sshd"):
    """A pytest fixture yielding a started LoopbackSshd; skips, saying why, where it cannot run."""
    return server_fixture(LoopbackSshd, SshdUnavailable, scope=scope, name=name)
