"""Docker's install step with ``packages: distribution`` on a real Ubuntu 24.04 (noble) userland.

The step (components/render/docker.py, after provision.APT's ``apt_install``) runs as it would on a
server, in a chroot of a fresh copy of scripts/ubuntu-noble-rootfs's minbase tree with noble, -updates
and -security (main and universe: docker.io and docker-compose-v2 are in universe) as its sources:

- it installs docker.io and the distribution's Compose v2 package, and `docker compose version` works;
- a second run exits 0 and changes nothing.

No daemon starts in the chroot (policy-rc.d says no), and none is needed: only the CLIs are run. Nothing
here uses the session's Debian host (the `host` and `stack` fixtures), so it does not boot it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.workspace import ROOT

from components.render import provision
from components.render.docker import DockerPlan, install_script
from components.render.scripts import APT_HEADER
from local import FIGURES

ROOTFS_SCRIPT = ROOT / "scripts" / "ubuntu-noble-rootfs"
CACHE = Path(os.environ.get("STACKYARD_CACHE") or Path.home() / ".cache" / "stackyard") / "ubuntu-noble"
DEBOOTSTRAP_SCRIPT = Path("/usr/share/debootstrap/scripts/gutsy")
MIRROR = "http://archive.ubuntu.com/ubuntu"
SOURCES = "".join(f"deb {MIRROR} {suite} main universe\n" for suite in ("noble", "noble-updates", "noble-security"))
MOUNTS = ("proc", "sys", "dev", "dev/pts")
"""Bound from this machine into the chroot, in this order (and unmounted in the reverse one)."""
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LC_ALL": "C"}
"""The environment of commands in the chroot: the Ubuntu's own, not this machine's."""
SCRIPT = APT_HEADER + provision.APT + install_script(DockerPlan(packages="distribution"))

pytestmark = pytest.mark.skipif(not DEBOOTSTRAP_SCRIPT.is_file(),
                                reason=f"e2e Ubuntu tier: debootstrap has no {DEBOOTSTRAP_SCRIPT} (the Ubuntu script)")


def run(*args: str | Path, timeout: float, stdin: str | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, input=stdin, timeout=timeout,
                          env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def mounts_under(root: Path) -> list[str]:
    """Every mount point at or under ``root``, deepest last (as findmnt lists them)."""
    listed = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True, check=True).stdout
    # findmnt -r writes a space in a path as \x20: the temporary paths here have none.
    return [t for t in listed.splitlines() if t == str(root) or t.startswith(f"{root}/")]


def release(work: Path, root: Path) -> None:
    """Unmounts everything under ``root``, then deletes ``work``; refuses to delete while anything is
    still mounted there (rm would go into this machine's /dev and /sys)."""
    for target in reversed(mounts_under(root)):
        subprocess.run(["umount", target], capture_output=True)
    if mounts_under(root):
        for target in reversed(MOUNTS):
            subprocess.run(["umount", "-R", str(root / target)], capture_output=True)
    for target in reversed(mounts_under(root)):
        subprocess.run(["umount", "-l", target], capture_output=True)
    left = mounts_under(root)
    if left:
        raise AssertionError(f"still mounted after umount, umount -R and umount -l: {left}; {work} is kept")
    subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=True)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file of the chroot's own tree with its inode, mode, owner, size, times and link target:
    a file written, replaced, touched or chmodded shows up as a difference."""
    seen: dict[str, tuple] = {}
    skip = {root / m for m in MOUNTS}
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(top, d) not in skip]
        for name in [*dirs, *files]:
            path = Path(top, name)
            st = path.lstat()
            link = os.readlink(path) if path.is_symlink() else None
            seen[str(path.relative_to(root))] = (st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_size,
                                                 st.st_mtime_ns, st.st_ctime_ns, link)
    return seen


class Noble:
    """A chroot of a fresh copy of the cached noble tree, its sources updated, and what it took."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seconds: dict[str, float] = {}
        self.installed = False

    def chroot(self, *args: str, timeout: float = 120, stdin: str | None = None,
               check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("chroot", self.root, *args, timeout=timeout, stdin=stdin, check=check, env=ENV)

    def timed(self, name: str, started: float) -> None:
        self.seconds[name] = time.monotonic() - started


@pytest.fixture(scope="module")
def noble() -> Iterator[Noble]:
    started = time.monotonic()
    made = run(ROOTFS_SCRIPT, timeout=1800)
    print(made.stdout, end="")
    rootfs_seconds = time.monotonic() - started
    CACHE.mkdir(parents=True, exist_ok=True)
    # Next to the cached tree, so that cp can share its blocks where the filesystem allows it.
    work = Path(tempfile.mkdtemp(prefix="copy-", dir=CACHE))
    root = work / "root"
    try:
        started = time.monotonic()
        run("cp", "-a", "--reflink=auto", CACHE / "rootfs", root, timeout=600)
        box = Noble(root)
        box.seconds["rootfs"] = rootfs_seconds
        box.timed("copy", started)
        # Package scripts must not start daemons in a chroot: invoke-rc.d asks policy-rc.d, and 101 is "no".
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        resolv = root / "etc/resolv.conf"
        resolv.unlink(missing_ok=True)  # a link into the tree's /run would point nowhere
        shutil.copyfile("/etc/resolv.conf", resolv)
        # apt fetches over HTTP (verified by the archive's signatures): no CA bundle is needed.
        (root / "etc/apt/sources.list").write_text(SOURCES)
        for target in MOUNTS:
            (root / target).mkdir(parents=True, exist_ok=True)
            run("mount", "--bind", f"/{target}", root / target, timeout=30)
        started = time.monotonic()
        box.chroot("apt-get", "-o", "Dpkg::Use-Pty=0", "update", "-qq", timeout=600)
        box.timed("apt update", started)
        yield box
    finally:
        release(work, root)
        assert not work.exists()


def test_distribution_packages_give_docker_and_compose_v2(noble: Noble) -> None:
    started = time.monotonic()
    first = noble.chroot("bash", "-s", stdin=SCRIPT, timeout=1800, check=False)
    noble.timed("install", started)
    assert first.returncode == 0, f"the install step exited {first.returncode}:\n{first.stdout}{first.stderr}"
    noble.installed = True

    compose = noble.chroot("docker", "compose", "version").stdout.strip()
    assert re.search(r"\bversion v?2\.\d+\.\d+", compose), compose
    docker = noble.chroot("docker", "--version").stdout.strip()
    listed = noble.chroot("dpkg-query", "-W", "docker-compose-v2", "docker.io").stdout
    versions = dict(line.split("\t", 1) for line in listed.splitlines())
    assert set(versions) == {"docker-compose-v2", "docker.io"}, listed
    assert all(versions.values()), listed  # a version: installed, not only known
    status = noble.chroot("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "docker-compose-v2", "docker.io").stdout
    assert status.split() == ["ii", "ii"], status

    print(f"{docker}\n{compose}\n{listed}", end="")
    seconds = ", ".join(f"{name} {value:.1f} s" for name, value in noble.seconds.items())
    FIGURES.append(f"ubuntu 24.04 docker (distribution): docker.io {versions['docker.io']} ({docker}), "
                   f"docker-compose-v2 {versions['docker-compose-v2']} ({compose}); {seconds}")


def test_a_second_run_changes_nothing(noble: Noble) -> None:
    if not noble.installed:
        pytest.skip("the first run of the install step did not succeed")
    before = snapshot(noble.root)
    started = time.monotonic()
    second = noble.chroot("bash", "-s", stdin=SCRIPT, timeout=600, check=False)
    seconds = time.monotonic() - started
    assert second.returncode == 0, f"the second run exited {second.returncode}:\n{second.stdout}{second.stderr}"
    after = snapshot(noble.root)
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    assert not changed, f"the second run changed {len(changed)} paths: {changed[:40]}"
    FIGURES.append(f"ubuntu 24.04 docker (distribution): second run {seconds:.1f} s, exit 0, "
                   f"{len(after)} paths unchanged")
