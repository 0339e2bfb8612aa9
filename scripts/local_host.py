#!/usr/bin/env python3
"""local_host: a real Debian 12 or Ubuntu 24.04 server on this machine, for `make up` and the e2e tests.

The host is a `systemd-nspawn` container booting a debootstrap root filesystem: systemd as PID 1,
sshd, apt, and its own network namespace, so ufw and iptables rules it loads stay inside it. It is
reached at 10.213.0.2 through a veth pair whose other end (10.213.0.1) is on this machine; nothing
is forwarded or published, so it answers this machine only. Its outbound traffic (apt, PyPI, npm)
is masqueraded through this machine.

    scripts/local_host.py image           build the image, or reuse it (cached by its recipe)
    scripts/local_host.py up [--fresh]    network, boot, wait for SSH; --fresh starts from a clean disk
    scripts/local_host.py down            stop the host (by its PID) and undo every change to this machine
    scripts/local_host.py status          what is running
    scripts/local_host.py ssh [CMD...]    a shell or a command on the host, as root
    scripts/local_host.py repos           publish examples/* as git repositories the host can clone

What `up` changes on this machine, and `down` undoes: a network namespace `stackyard-local`, a
veth pair, `net.ipv4.ip_forward` (restored to what it was), one MASQUERADE rule for 10.213.0.0/30,
a cgroup `stackyard-local` in each cgroup hierarchy, /run/systemd/nspawn (nspawn's lock files) if
it made it, and two processes: the container and the git server, each with its PID file.

Everything else lives under ~/.cache/stackyard/local-host (STACKYARD_CACHE): the image, keyed by
the sha256 of its recipe; the host's disk; the SSH client key; the sample repositories. Root only.

STACKYARD_DISTRO picks the server's distribution: debian-12 (the default) or ubuntu-24.04 (noble, the
seeds' own). Each has its own image and disk; one host runs at a time, at the same address.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("STACKYARD_CACHE", Path.home() / ".cache" / "stackyard")) / "local-host"
NAME = "stackyard-local"
HOST_IP = "10.213.0.1"
GUEST_IP = "10.213.0.2"
SUBNET = "10.213.0.0/30"
VETH = "sy-local"
GIT_PORT = 8480
MIRROR = os.environ.get("STACKYARD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CGROUP_ROOT = Path("/sys/fs/cgroup")
NSPAWN_RUN = Path("/run/systemd/nspawn")

@dataclass(frozen=True)
class Distro:
    """A distribution the host can run: what a fresh cloud server of it has, and no more (provisioning
    installs the rest), and where its packages come from."""

    name: str
    suite: str
    packages: tuple[str, ...]
    sources: str
    """/etc/apt/sources.list.d/<sources_file>, as the distribution's cloud images write it."""
    sources_file: str


BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "ca-certificates", "iproute2", "sudo", "procps",
                 "python3", "less", "cron", "logrotate")
DISTROS = {
    "debian-12": Distro(
        "debian-12", "bookworm", BASE_PACKAGES, sources_file="debian.sources", sources="""Types: deb
URIs: {mirror}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {security}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""),
    # Ubuntu's server images come with ufw (inactive) and unattended-upgrades (active) installed, and
    # universe enabled: provisioning meets them as they are there.
    "ubuntu-24.04": Distro(
        "ubuntu-24.04", "noble", (*BASE_PACKAGES, "ufw", "unattended-upgrades"), sources_file="ubuntu.sources",
        sources="""Types: deb
URIs: {mirror}
Suites: noble noble-updates noble-backports
Components: main restricted universe multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg

Types: deb
URIs: {security}
Suites: noble-security
Components: main restricted universe multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
"""),
}
DISTRO = os.environ.get("STACKYARD_DISTRO") or "debian-12"
if DISTRO not in DISTROS:
    raise SystemExit(f"local-host: STACKYARD_DISTRO={DISTRO!r}: one of {', '.join(DISTROS)}")
UBUNTU_MIRROR = os.environ.get("UBUNTU_MIRROR", "http://archive.ubuntu.com/ubuntu")
UBUNTU_BASE = REPO / "scripts" / "ubuntu-noble-rootfs"
"""Makes (once, cached) the minbase noble tree Ubuntu's image starts from: see its header for the keyring."""
# This machine's egress re-signs TLS with its own CA (/usr/local/share/ca-certificates): the host
# trusts it like this machine does, for apt, pip, uv and npm. A real server needs none of this.
TRUST = {
    "etc/pip.conf": "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n",
    "etc/uv/uv.toml": "native-tls = true\n",
    "etc/npmrc": "cafile=/etc/ssl/certs/ca-certificates.crt\n",
    "usr/etc/npmrc": "cafile=/etc/ssl/certs/ca-certificates.crt\n",
    "etc/environment": "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\n",
}
RECIPE_VERSION = "1"
"""Bump when the build steps below change, so a cached image of the old recipe is not reused."""


def log(message: str) -> None:
    print(f"[local-host] {message}", flush=True)


def run(*args: str | Path, check: bool = True, quiet: bool = False, **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], text=True, capture_output=True, **kwargs)
    if check and done.returncode != 0:
        raise SystemExit(f"local-host: {' '.join(map(str, args))} failed ({done.returncode}):\n"
                         f"{done.stdout}{done.stderr}")
    if not quiet and done.stderr.strip() and done.returncode != 0:
        print(done.stderr, file=sys.stderr)
    return done


@dataclass(frozen=True)
class Paths:
    cache: Path = CACHE

    @property
    def key(self) -> Path:
        return self.cache / "ssh" / "id_ed25519"

    @property
    def images(self) -> Path:
        return self.cache / "images"

    @property
    def disk(self) -> Path:
        """The host's disk. STACKYARD_LOCAL_DISK names it: the e2e tests keep theirs apart from `make up`'s, so
        neither finds the other's changes on a disk its Pulumi state does not describe. Each distribution
        but Debian's (whose disks were there first) has its own."""
        name = os.environ.get("STACKYARD_LOCAL_DISK", "local")
        return self.cache / "hosts" / (name if DISTRO == "debian-12" else f"{name}-{DISTRO}") / "rootfs"

    @property
    def run(self) -> Path:
        return self.cache / "run"

    @property
    def repos(self) -> Path:
        return self.cache / "repos"

    @property
    def known_hosts(self) -> Path:
        return self.run / "known_hosts"


PATHS = Paths()


# --- the image ---------------------------------------------------------------------------------


def client_key() -> Path:
    if not PATHS.key.exists():
        PATHS.key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stackyard-local", "-f", PATHS.key)
    return PATHS.key


def trusted_cas() -> list[Path]:
    return sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))


def recipe() -> str:
    """Everything that decides the image's content: a change in any of it builds a new image."""
    distro = DISTROS[DISTRO]
    parts = [RECIPE_VERSION, MIRROR, " ".join(distro.packages), distro.sources, repr(sorted(TRUST.items())),
             client_key().with_suffix(".pub").read_text()]
    if distro.name != "debian-12":  # (Debian's recipe reads as it did before there were others)
        parts[:2] = [RECIPE_VERSION, distro.name, UBUNTU_MIRROR]
    parts += [f"{ca.name}:{hashlib.sha256(ca.read_bytes()).hexdigest()}" for ca in trusted_cas()]
    return "\n".join(parts)


def image_dir() -> Path:
    return PATHS.images / hashlib.sha256(recipe().encode()).hexdigest()[:16]


def build_image() -> Path:
    """The image's root filesystem: debootstrap, then what makes it a server we can log in to."""
    target = image_dir()
    if (target / "rootfs" / "etc" / "stackyard-image").exists():
        log(f"image {target.name}: cached")
        return target / "rootfs"
    for tool in ("debootstrap", "systemd-nspawn"):
        if shutil.which(tool) is None:
            raise SystemExit(f"local-host: {tool} is missing; `make host-deps` installs it")
    work = target.with_suffix(".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rootfs = work / "rootfs"
    started = time.monotonic()
    if DISTRO == "debian-12":
        log(f"image {target.name}: debootstrap bookworm from {MIRROR} (about a minute)")
        run("debootstrap", "--variant=minbase", f"--include={','.join(DISTROS[DISTRO].packages)}", "bookworm",
            rootfs, MIRROR)
        security = MIRROR.replace("/debian", "/debian-security") if MIRROR.endswith("/debian") else MIRROR
        write_sources(rootfs, MIRROR, security)
    else:
        ubuntu_rootfs(rootfs)
    ssh_dir = rootfs / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(client_key().with_suffix(".pub").read_text())
    (ssh_dir / "authorized_keys").chmod(0o600)
    (rootfs / "etc/hostname").write_text(f"{NAME}\n")
    (rootfs / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {NAME}\n")
    for ca in trusted_cas():
        shutil.copy(ca, rootfs / "usr/local/share/ca-certificates" / ca.name)
    for relative, text in TRUST.items():
        path = rootfs / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if relative == "etc/environment" else "w") as f:
            f.write(text)
    run("chroot", rootfs, "update-ca-certificates", "--fresh")
    run("chroot", rootfs, "apt-get", "clean")
    (rootfs / "etc/stackyard-image").write_text(recipe())
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    log(f"image {target.name}: built in {time.monotonic() - started:.0f} s")
    return target / "rootfs"


def write_sources(rootfs: Path, mirror: str, security: str) -> None:
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    distro = DISTROS[DISTRO]
    (rootfs / "etc/apt/sources.list.d" / distro.sources_file).write_text(distro.sources.format(mirror=mirror,
                                                                                            security=security))


def ubuntu_rootfs(rootfs: Path) -> None:
    """Ubuntu's tree: a copy of the cached minbase noble (this machine's debootstrap is Debian's, with no
    noble script or Ubuntu keyring; scripts/ubuntu-noble-rootfs deals with both), then the server's
    packages from the archive, checked by the keyring in the tree."""
    log(f"image: Ubuntu 24.04 from {UBUNTU_MIRROR} (minbase once, then packages: a few minutes)")
    run("bash", UBUNTU_BASE, env={**os.environ, "UBUNTU_MIRROR": UBUNTU_MIRROR})
    base = CACHE.parent / "ubuntu-noble" / "rootfs"
    run("cp", "-a", "--reflink=auto", base, rootfs)
    write_sources(rootfs, UBUNTU_MIRROR, UBUNTU_MIRROR.replace("archive.ubuntu.com", "security.ubuntu.com"))
    # Nothing the packages bring starts while the tree is made (no init runs in it anyway).
    policy = rootfs / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    resolv = rootfs / "etc/resolv.conf"
    if resolv.is_symlink() or not resolv.exists():
        resolv.unlink(missing_ok=True)
    shutil.copy("/etc/resolv.conf", resolv)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LC_ALL": "C",
           "DEBIAN_FRONTEND": "noninteractive"}
    mounts = []
    try:
        for mount in ("proc", "sys", "dev", "dev/pts"):
            run("mount", "--bind", f"/{mount}", rootfs / mount)
            mounts.append(rootfs / mount)
        run("chroot", rootfs, "apt-get", "-q", "update", env=env)
        run("chroot", rootfs, "apt-get", "-q", "-y", "--no-install-recommends", "install",
            *DISTROS[DISTRO].packages, env=env)
    finally:
        for mount in reversed(mounts):
            run("umount", "-l", mount, check=False, quiet=True)
    policy.unlink()


# --- the network ---------------------------------------------------------------------------------


def netns_exists() -> bool:
    return NAME in run("ip", "netns", "list").stdout.split()


def masquerade(action: str) -> subprocess.CompletedProcess[str]:
    return run("iptables", "-t", "nat", action, "POSTROUTING", "-s", SUBNET, "!", "-o", VETH, "-j", "MASQUERADE",
               check=False, quiet=True)


def network_up() -> None:
    PATHS.run.mkdir(parents=True, exist_ok=True)
    if not netns_exists():
        run("ip", "netns", "add", NAME)
    if run("ip", "link", "show", VETH, check=False, quiet=True).returncode != 0:
        run("ip", "link", "add", VETH, "type", "veth", "peer", "name", "host0", "netns", NAME)
        run("ip", "addr", "add", f"{HOST_IP}/30", "dev", VETH)
        run("ip", "link", "set", VETH, "up")
        inside = ["ip", "netns", "exec", NAME]
        run(*inside, "ip", "link", "set", "lo", "up")
        run(*inside, "ip", "addr", "add", f"{GUEST_IP}/30", "dev", "host0")
        run(*inside, "ip", "link", "set", "host0", "up")
        run(*inside, "ip", "route", "add", "default", "via", HOST_IP)
    forward = Path("/proc/sys/net/ipv4/ip_forward")
    saved = PATHS.run / "ip_forward"
    if not saved.exists():
        saved.write_text(forward.read_text())
    forward.write_text("1\n")
    if masquerade("-C").returncode != 0:
        masquerade("-A")


def network_down() -> None:
    while masquerade("-C").returncode == 0:
        masquerade("-D")
    saved = PATHS.run / "ip_forward"
    if saved.exists():
        Path("/proc/sys/net/ipv4/ip_forward").write_text(saved.read_text())
        saved.unlink()
    run("ip", "link", "del", VETH, check=False, quiet=True)
    if netns_exists():
        run("ip", "netns", "del", NAME)


# --- the container ---------------------------------------------------------------------------------


def cgroups() -> list[Path]:
    """A cgroup of our own in each hierarchy nspawn uses, so it never writes at their roots."""
    return [CGROUP_ROOT / h / NAME for h in ("systemd", "unified") if (CGROUP_ROOT / h).is_dir()] or [
        CGROUP_ROOT / NAME]


def pid_of(name: str) -> int | None:
    """The PID in ``<run>/<name>.pid`` if that process is alive (an exited child of ours is reaped)."""
    path = PATHS.run / f"{name}.pid"
    try:
        pid = int(path.read_text())
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return None
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return None if state in ("Z", "X") else pid
    except (OSError, ValueError):
        return None


LAUNCHER = """#!/bin/bash
# Keeps the container running: nspawn exits with 133 when the container reboots, so start it again.
for cgroup in {cgroups}; do echo $$ > "$cgroup/cgroup.procs"; done
child=
trap '[ -n "$child" ] && kill -TERM "$child"; wait "$child"; exit 0' TERM INT
# Docker runs in the container too (compose services): it needs the unified cgroup hierarchy (runc
# cannot create its cgroups in a hybrid one, which nspawn mounts read-only), and two kinds of system
# call nspawn's default filter refuses: the keyring calls runc makes for each container's session
# key, and bpf, with which runc sets a container's device rules in cgroup v2.
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
while :; do
  systemd-nspawn --boot --directory={disk} --machine={name} --network-namespace-path=/run/netns/{name} \\
    --system-call-filter='@keyring bpf' \\
    --private-network --keep-unit --register=no --resolv-conf=copy-host --console=read-only &
  child=$!
  wait "$child"
  rc=$?
  child=
  [ "$rc" = 133 ] || exit "$rc"
  echo "[local-host] the container rebooted; starting it again"
done
"""


def disk(fresh: bool) -> None:
    """The host's disk: a copy of the image, kept from one boot to the next unless ``fresh``."""
    image = build_image()
    if fresh and PATHS.disk.exists():
        if pid_of("container"):
            raise SystemExit("local-host: the host is running; `make down` before asking for a fresh disk")
        log("fresh disk: removing the old one")
        shutil.rmtree(PATHS.disk.parent)
    if not (PATHS.disk / "etc/stackyard-image").exists():
        PATHS.disk.parent.mkdir(parents=True, exist_ok=True)
        run("cp", "-a", "--reflink=auto", image, PATHS.disk)


def boot() -> None:
    running = PATHS.run / "distro"
    if pid_of("container"):
        if running.exists() and running.read_text().strip() != DISTRO:
            raise SystemExit(f"local-host: the host running is {running.read_text().strip()}, not {DISTRO}: "
                             "`make down` first")
        log("already running")
        return
    running.write_text(f"{DISTRO}\n")
    made_run_dir = not NSPAWN_RUN.exists()
    if made_run_dir:
        (PATHS.run / "made-nspawn-run").touch()
    for cgroup in cgroups():
        cgroup.mkdir(exist_ok=True)
    launcher = PATHS.run / "launch"
    launcher.write_text(LAUNCHER.format(cgroups=" ".join(str(c) for c in cgroups()), disk=PATHS.disk, name=NAME))
    launcher.chmod(0o700)
    console = (PATHS.run / "console.log").open("w")
    process = subprocess.Popen([str(launcher)], stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    (PATHS.run / "container.pid").write_text(f"{process.pid}\n")


def ssh_args() -> list[str]:
    return ["ssh", "-i", str(PATHS.key), "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={PATHS.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR"]


def host_key() -> str:
    """The host's ed25519 key, ``ssh-ed25519 AAAA...``: what the stack pins."""
    return " ".join((PATHS.disk / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[:2])


def wait_for_ssh(timeout: float = 120) -> float:
    PATHS.known_hosts.write_text(f"{GUEST_IP} {host_key()}\n")
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not pid_of("container"):
            raise SystemExit(f"local-host: the container stopped; see {PATHS.run / 'console.log'}")
        done = subprocess.run([*ssh_args(), f"root@{GUEST_IP}", "systemctl is-system-running --wait"],
                              capture_output=True, text=True)
        if done.returncode == 0 or done.stdout.strip() in ("running", "degraded"):
            return time.monotonic() - started
        time.sleep(0.5)
    raise SystemExit(f"local-host: no SSH on {GUEST_IP} after {timeout:.0f} s; see {PATHS.run / 'console.log'}")


def stop_container() -> None:
    pid = pid_of("container")
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while pid_of("container") and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_of("container"):
            os.killpg(pid, signal.SIGKILL)
            time.sleep(0.5)
    (PATHS.run / "container.pid").unlink(missing_ok=True)
    for cgroup in cgroups():
        if cgroup.exists():
            # the container's own cgroups first, deepest first: a cgroup with children cannot go
            nested = sorted((p for p in cgroup.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
            for directory in [*nested, cgroup]:
                with contextlib.suppress(OSError):
                    directory.rmdir()
    marker = PATHS.run / "made-nspawn-run"
    if marker.exists():
        shutil.rmtree(NSPAWN_RUN, ignore_errors=True)
        marker.unlink()


# --- sample repositories ----------------------------------------------------------------------------


def publish_repos() -> list[str]:
    """Each examples/<name> as a bare repository <cache>/repos/<name>.git, served over plain HTTP (git's
    dumb protocol) on the host's side of the veth: the host clones from there, as from a forge. A
    change in examples/<name> becomes a new commit on its main branch."""
    PATHS.repos.mkdir(parents=True, exist_ok=True)
    names = []
    for example in sorted(p for p in (REPO / "examples").iterdir() if p.is_dir()):
        bare = PATHS.repos / f"{example.name}.git"
        if not bare.exists():
            run("git", "init", "--quiet", "--bare", "--initial-branch=main", bare)
        commit_tree(bare, example, f"{example.name} from stackyard's examples/")
        names.append(example.name)
    return names


def commit_tree(bare: Path, tree: Path, message: str, *, branch: str | None = "main") -> str:
    """Commits the files of ``tree`` on top of main in ``bare`` and returns the commit. With a ``branch``
    (main by default) the branch moves to it, unless the files are those of its tip already; without
    one the commit is made but no branch moves (the caller tags it)."""
    env = {**os.environ, "GIT_DIR": str(bare), "GIT_WORK_TREE": str(tree),
           "GIT_INDEX_FILE": str(bare / "stackyard.index"), "GIT_AUTHOR_NAME": "stackyard",
           "GIT_AUTHOR_EMAIL": "local@stackyard.test", "GIT_COMMITTER_NAME": "stackyard",
           "GIT_COMMITTER_EMAIL": "local@stackyard.test"}
    run("git", "add", "--all", env=env)
    tree_id = run("git", "write-tree", env=env).stdout.strip()
    tip = run("git", "rev-parse", "--verify", "--quiet", "refs/heads/main", check=False, env=env).stdout.strip()
    if tip and run("git", "rev-parse", f"{tip}^{{tree}}", env=env).stdout.strip() == tree_id and branch:
        return tip
    parents = ["-p", tip] if tip else []
    commit = run("git", "commit-tree", tree_id, *parents, "-m", message, env=env).stdout.strip()
    if branch:
        run("git", "update-ref", f"refs/heads/{branch}", commit, env=env)
    run("git", "update-server-info", env=env)
    return commit


def serve_repos() -> None:
    if pid_of("git-server"):
        return
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(GIT_PORT), "--bind", HOST_IP, "--directory", str(PATHS.repos)],
        stdout=(PATHS.run / "git-server.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    (PATHS.run / "git-server.pid").write_text(f"{process.pid}\n")


def stop(name: str) -> None:
    """Stops the server this script (or scripts/local_acme.py) started as ``name``, and waits for it."""
    pid = pid_of(name)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if pid_of(name) is None:
                break
            time.sleep(0.1)
    (PATHS.run / f"{name}.pid").unlink(missing_ok=True)


SERVERS = ("git-server", "pebble", "pebble-challtestsrv")
"""What listens on this machine's end of the link: the repositories, and the test CA (local_acme.py)."""


def repo_url(name: str) -> str:
    return f"http://{HOST_IP}:{GIT_PORT}/{name}.git"


# --- commands ----------------------------------------------------------------------------------------


def up(fresh: bool = False) -> dict[str, float]:
    if os.geteuid() != 0:
        raise SystemExit("local-host: needs root (network namespaces, nspawn)")
    timings: dict[str, float] = {}
    started = time.monotonic()
    build_image()
    timings["image"] = time.monotonic() - started
    started = time.monotonic()
    disk(fresh)
    timings["disk"] = time.monotonic() - started
    started = time.monotonic()
    network_up()
    boot()
    wait_for_ssh()
    timings["boot to SSH"] = time.monotonic() - started
    publish_repos()
    serve_repos()
    log(f"up: root@{GUEST_IP} (host key {host_key()[:40]}...), git repositories at http://{HOST_IP}:{GIT_PORT}/")
    return timings


def down() -> None:
    for server in SERVERS:
        stop(server)
    stop_container()
    network_down()
    log("down: container stopped, network namespace, veth, NAT rule and ip_forward restored")


def status() -> int:
    running = pid_of("container")
    distro = (PATHS.run / "distro").read_text().strip() if (PATHS.run / "distro").exists() else "?"
    print(f"container: {'running, pid ' + str(running) + ', ' + distro if running else 'stopped'}")
    print(f"git server: {'running' if pid_of('git-server') else 'stopped'}")
    print(f"network namespace: {'present' if netns_exists() else 'absent'}")
    print(f"image: {image_dir()} ({'built' if (image_dir() / 'rootfs').exists() else 'not built'})")
    return 0 if running else 3


def main(argv: list[str]) -> int:
    assert __doc__ is not None  # the module's docstring, first line above
    parser = argparse.ArgumentParser(prog="local_host.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("image")
    up_parser = sub.add_parser("up")
    up_parser.add_argument("--fresh", action="store_true")
    sub.add_parser("down")
    sub.add_parser("status")
    ssh_parser = sub.add_parser("ssh")
    ssh_parser.add_argument("cmd", nargs=argparse.REMAINDER)
    sub.add_parser("repos")
    args = parser.parse_args(argv)
    if args.command == "image":
        build_image()
    elif args.command == "up":
        for phase, seconds in up(args.fresh).items():
            log(f"{phase}: {seconds:.1f} s")
    elif args.command == "down":
        down()
    elif args.command == "status":
        return status()
    elif args.command == "ssh":
        return subprocess.call([*ssh_args(), "-t" if not args.cmd else "-T", f"root@{GUEST_IP}", *args.cmd])
    elif args.command == "repos":
        for name in publish_repos():
            print(repo_url(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
