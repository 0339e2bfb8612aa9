"""The two ways to run a real Debian 12 host here, measured side by side: the systemd-nspawn container
`make up` uses, and a qemu VM booted from the same image (software emulation, TCG; and KVM, tried).

For each: boot to SSH, then stackyard's own base step (scripts rendered by components/render, run as
`pulumi up` would: `bash -s` over SSH) and an apt install of nginx, timed. Each VM figure is one run:
under TCG a step takes minutes. The VM is the same image plus a kernel (linux-image-amd64), an fstab
and DHCP on its virtio NIC, on an ext4 disk made by `mkfs.ext4 -d`; qemu's user-mode network
forwards 127.0.0.1:<port> to its SSH.

Run as root (needs qemu-system-x86, e2fsprogs): venv/bin/python benchmarks/host_types.py [--no-kvm]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
os.environ["STACKYARD_LOCAL_DISK"] = "bench-types"

import local_host  # noqa: E402
from components.render import provision  # noqa: E402

BASE = provision.base_script(ssh_port=22, ufw=True, login_user="root")
NGINX = provision.HEADER + provision.APT + "apt-get -o DPkg::Lock::Timeout=300 update -qq\napt_install nginx\n"


def ssh(port: int | None, host: str, command: str, stdin: str | None = None,
        timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    args = ["ssh", "-i", str(local_host.PATHS.key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR"]
    if port:
        args += ["-p", str(port)]
    return subprocess.run([*args, f"root@{host}", command], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def wait_ssh(port: int | None, host: str, timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ssh(port, host, "true", timeout=10).returncode == 0:
            return time.monotonic() - started
        time.sleep(1)
    return None


def timed_step(port: int | None, host: str, script: str) -> float:
    started = time.monotonic()
    done = ssh(port, host, "bash -s", stdin=script)
    if done.returncode != 0:
        raise SystemExit(f"step failed on {host}:{port}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.monotonic() - started


def container() -> dict[str, float]:
    local_host.down()
    local_host.disk(fresh=True)
    started = time.monotonic()
    local_host.network_up()
    local_host.boot()
    local_host.wait_for_ssh()
    figures = {"boot to SSH": time.monotonic() - started}
    figures["base step"] = timed_step(None, local_host.GUEST_IP, BASE)
    figures["apt install nginx"] = timed_step(None, local_host.GUEST_IP, NGINX)
    local_host.down()
    return figures


def vm_disk(work: Path) -> tuple[Path, Path, Path]:
    """An ext4 disk of the image with a kernel, and that kernel and initrd for qemu's -kernel/-initrd."""
    rootfs = work / "rootfs"
    subprocess.run(["cp", "-a", str(local_host.build_image()), str(rootfs)], check=True)
    (rootfs / "etc/fstab").write_text("/dev/vda / ext4 defaults 0 1\n")
    (rootfs / "etc/systemd/network/10-dhcp.network").write_text("[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n")
    (rootfs / "etc/resolv.conf").unlink(missing_ok=True)
    (rootfs / "etc/resolv.conf").write_text("nameserver 10.0.2.3\n")
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "linux-image-amd64"],
                    ["systemctl", "enable", "systemd-networkd"], ["apt-get", "clean"]):
        subprocess.run(["chroot", str(rootfs), *command], check=True, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    kernel = sorted((rootfs / "boot").glob("vmlinuz-*"))[-1]
    initrd = sorted((rootfs / "boot").glob("initrd.img-*"))[-1]
    shutil.copy(kernel, work / "vmlinuz")
    shutil.copy(initrd, work / "initrd.img")
    disk = work / "disk.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(rootfs), str(disk), "6G"], check=True)
    shutil.rmtree(rootfs)
    return disk, work / "vmlinuz", work / "initrd.img"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm(work: Path, accel: str, boot_timeout: float, steps: bool) -> dict[str, float | str]:
    disk, kernel, initrd = vm_disk(work) if not (work / "disk.img").exists() else (
        work / "disk.img", work / "vmlinuz", work / "initrd.img")
    port = free_port()
    cpu = ["-cpu", "max"] if accel.startswith("tcg") else ["-cpu", "host"]
    qemu = subprocess.Popen(
        ["qemu-system-x86_64", "-accel", accel, *cpu, "-m", "2048", "-smp", "2", "-nographic",
         "-kernel", str(kernel), "-initrd", str(initrd), "-append", "root=/dev/vda rw console=ttyS0",
         "-drive", f"file={disk},if=virtio,format=raw",
         "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22", "-device", "virtio-net-pci,netdev=net0"],
        stdout=(work / f"console-{accel.split(',')[0]}.log").open("w"), stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL)
    try:
        booted = wait_ssh(port, "127.0.0.1", boot_timeout)
        if booted is None:
            tail = (work / f"console-{accel.split(',')[0]}.log").read_text(errors="replace")[-300:]
            return {"boot to SSH": f"none within {boot_timeout:.0f} s; console ends: {tail!r}"}
        figures: dict[str, float | str] = {"boot to SSH": booted}
        if steps:
            figures["base step"] = timed_step(port, "127.0.0.1", BASE)
            figures["apt install nginx"] = timed_step(port, "127.0.0.1", NGINX)
        return figures
    finally:
        qemu.terminate()
        try:
            qemu.wait(timeout=30)
        except subprocess.TimeoutExpired:
            qemu.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-kvm", action="store_true", help="do not try KVM")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stackyard-vm-"))
    try:
        results = {"systemd-nspawn container": container()}
        results["qemu TCG (-accel tcg,thread=multi -cpu max)"] = vm(work, "tcg,thread=multi", 900, steps=True)
        if not args.no_kvm and os.path.exists("/dev/kvm"):
            results["qemu KVM (-accel kvm -cpu host)"] = vm(work, "kvm", 180, steps=False)
        for host, figures in results.items():
            print(host)
            for name, value in figures.items():
                print(f"  {name:<20} {value:7.1f} s" if isinstance(value, float) else f"  {name:<20} {value}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(local_host.PATHS.disk.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
