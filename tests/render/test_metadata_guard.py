"""The metadata guard against real packets: a host, a container and a metadata service, each a network
namespace of its own, with the real iptables.

The metadata service holds the server's user data, its host key's private half among it. Only root on
the host may ask it. A container's requests are forwarded, and Docker puts its own rules at the top of
FORWARD, so here "Docker" does what it does on a real host, before or after the guard ran: it inserts
its bridge's accept rule at the top of FORWARD, then its jump to DOCKER-USER above that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components.render.provision import METADATA_GUARD
from components.render.scripts import shell

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("unshare", "nsenter", "iptables", "curl")),
    reason="needs root (network namespaces), unshare, nsenter, iptables and curl")

NETWORK = r"""
set -euo pipefail
ip link set lo up
unshare --net sleep 120 & CONTAINER=$!
unshare --net sleep 120 & METADATA=$!
trap 'kill $CONTAINER $METADATA 2>/dev/null || true; kill %3 2>/dev/null || true' EXIT
sleep 0.3
ip link add to-ctr type veth peer name eth0 netns "$CONTAINER"
ip link add to-meta type veth peer name eth0 netns "$METADATA"
ip addr add 10.9.0.1/24 dev to-ctr && ip link set to-ctr up
ip addr add 10.9.1.1/24 dev to-meta && ip link set to-meta up
ip route add 169.254.169.254/32 via 10.9.1.2
echo 1 > /proc/sys/net/ipv4/ip_forward
nsenter -t "$CONTAINER" -n sh -c 'ip link set lo up; ip addr add 10.9.0.2/24 dev eth0; ip link set eth0 up;
  ip route add default via 10.9.0.1'
nsenter -t "$METADATA" -n sh -c 'ip link set lo up; ip addr add 10.9.1.2/24 dev eth0;
  ip addr add 169.254.169.254/32 dev eth0; ip link set eth0 up; ip route add default via 10.9.1.1'
nsenter -t "$METADATA" -n python3 -m http.server 80 --bind 169.254.169.254 >/dev/null 2>&1 &
for _ in $(seq 50); do curl -s -o /dev/null --max-time 1 http://169.254.169.254/ && break; sleep 0.1; done
ask() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://169.254.169.254/ || true; }
docker_starts() {
  iptables -N DOCKER-USER 2>/dev/null || true
  iptables -I FORWARD 1 -i to-ctr ! -o to-ctr -j ACCEPT
  iptables -D FORWARD -j DOCKER-USER 2>/dev/null || true
  iptables -I FORWARD 1 -j DOCKER-USER
}
report() {
  echo "$1 root=$(ask) nobody=$(setpriv --reuid=65534 --regid=65534 --clear-groups bash -c "$(declare -f ask); ask")" \
    "container=$(nsenter -t "$CONTAINER" -n bash -c "$(declare -f ask); ask")"
}
report unguarded
"""


def _run(tmp_path: Path, steps: str) -> list[str]:
    guard = tmp_path / "guard"
    guard.write_text("#!/usr/bin/env bash\n" + shell("metadata-guard.sh"))
    guard.chmod(0o755)
    script = tmp_path / "run.sh"
    script.write_text(NETWORK + steps.replace("GUARD", str(guard)))
    result = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "bash", str(script)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


@pytest.mark.parametrize("order", ["the guard, then Docker (first provisioning)",
                                   "Docker, then the guard (the base step again)",
                                   "the guard, Docker, and Docker restarted"])
def test_only_root_on_the_host_reaches_the_metadata_service_whatever_docker_does(order: str,
                                                                                 tmp_path: Path) -> None:
    steps = {
        "the guard, then Docker (first provisioning)": "GUARD\ndocker_starts\n",
        "Docker, then the guard (the base step again)": "docker_starts\nGUARD\n",
        "the guard, Docker, and Docker restarted": "GUARD\ndocker_starts\ndocker_starts\nGUARD\n",
    }[order]
    lines = _run(tmp_path, steps + "report guarded\n")
    # Without the guard everyone gets the user data: the namespaces route it, so the refusals are the guard's.
    assert lines[0] == "unguarded root=200 nobody=200 container=200", lines
    assert lines[1] == "guarded root=200 nobody=000 container=000", lines


def test_the_guard_runs_before_the_network_every_service_and_docker(tmp_path: Path) -> None:
    unit = METADATA_GUARD.split("cat > /etc/systemd/system/stackyard-metadata-guard.service", 1)[1]
    assert "DefaultDependencies=no" in unit
    before = next(line for line in unit.splitlines() if line.startswith("Before="))
    # sysinit.target: every service with default dependencies starts after it (PM2's and Docker's too).
    assert set(before.removeprefix("Before=").split()) >= {"network-pre.target", "sysinit.target", "docker.service"}
    # Nothing it must come before may also come before it: that would be a cycle systemd breaks by
    # dropping a unit from the boot.
    after = {unit for line in unit.splitlines() if line.startswith("After=")
             for unit in line.removeprefix("After=").split()}
    assert after and not after & set(before.removeprefix("Before=").split()), after
    assert after <= {"local-fs.target", "systemd-modules-load.service"}, after
