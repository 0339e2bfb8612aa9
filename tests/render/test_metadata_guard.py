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

from components.render.preflight import PreflightPlan, _metadata
from components.render.provision import METADATA_GUARD, METADATA_UNGUARDED, base_script
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
# DNS at the same address, as Google's and Oracle's clouds answer it: a UDP echo on port 53.
nsenter -t "$METADATA" -n python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("169.254.169.254", 53))
while True: data, peer = s.recvfrom(512); s.sendto(data, peer)' >/dev/null 2>&1 &
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
# dns: whether nobody and a container get an answer from port 53 (UDP) at the metadata address.
dig_as() { "$@" /usr/bin/python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
try:
    s.sendto(b"q", ("169.254.169.254", 53)); print("ok" if s.recv(512) == b"q" else "no")
except OSError: print("no")'; }
dns() {
  echo "$1 dns nobody=$(dig_as setpriv --reuid=65534 --regid=65534 --clear-groups)" \
    "container=$(dig_as nsenter -t "$CONTAINER" -n)"
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


UNGUARD = r"""
# The unit, the script and systemd in a mount namespace of the test's own: nothing of this machine's is touched.
mount -t tmpfs none /etc/systemd/system && mount -t tmpfs none /usr/local/sbin
touch /etc/systemd/system/stackyard-metadata-guard.service
cp GUARD /usr/local/sbin/stackyard-metadata-guard
systemctl() { echo "systemctl $* rules=$(iptables -S | grep -c 169.254.169.254)" >> "$LOG"; }
"""


def test_the_guard_taken_away_opens_the_service_again_and_leaves_nothing_to_put_it_back(tmp_path: Path) -> None:
    """metadataGuard: false on a host the guard was on: every copy of its rules goes (the guard run
    twice by a race made two), after its unit is disabled, so no boot brings them back."""
    log = tmp_path / "systemctl.log"
    off = METADATA_UNGUARDED.replace("bash -s off", "bash -s off >/dev/null")
    lines = _run(tmp_path, UNGUARD.replace("$LOG", str(log)) + "GUARD\ndocker_starts\nGUARD\n"
                 "iptables -I OUTPUT -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT\n"
                 "report guarded\n" + off + off + "report unguarded-again\n"
                 "ls /etc/systemd/system /usr/local/sbin | grep -c stackyard || true\n")
    assert lines[1] == "guarded root=200 nobody=000 container=000", lines
    assert lines[2] == "unguarded-again root=200 nobody=200 container=200", lines
    assert lines[3] == "0", lines
    calls = log.read_text().splitlines()
    # The unit was disabled while the rules were still there: a reboot between would not have put them back.
    assert calls[0] == "systemctl disable --quiet stackyard-metadata-guard.service rules=4", calls


def _preflight(tmp_path: Path, before: str, guard: bool = True) -> list[str]:
    plan = PreflightPlan(system="shop", host="web", accessories={}, services=[], metadata_guard=guard)
    check = "\n".join(_metadata(plan))
    return _run(tmp_path, "conflict() { echo \"conflict: $*\"; }\n" + before + "\n" + check + "\n")


def test_the_preflight_names_a_user_other_than_root_who_asks_the_metadata_service(tmp_path: Path) -> None:
    asking = ("setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c 'import socket, time; "
              "s = socket.create_connection((\"169.254.169.254\", 80)); time.sleep(30)' >/dev/null 2>&1 &\n"
              "ASKERS=$!\n/usr/bin/python3 -c 'import socket, time; s = socket.create_connection("
              "(\"169.254.169.254\", 80)); time.sleep(30)' >/dev/null 2>&1 &\nASKERS=\"$ASKERS $!\"\n"
              "trap 'kill $ASKERS $CONTAINER $METADATA 2>/dev/null || true; kill %3 2>/dev/null || true' EXIT\n"
              "sleep 0.5\n")
    lines = [line for line in _preflight(tmp_path, asking) if line.startswith("conflict:")]
    assert len(lines) == 1 and "python3 (user nobody) asks" in lines[0], lines
    assert "systems.shop.hosts.web.metadataGuard: false" in lines[0]
    # Left open, nothing is in its way.
    assert not [line for line in _preflight(tmp_path, asking, guard=False) if line.startswith("conflict:")]


def test_the_preflight_names_digitaloceans_agent_by_its_unit(tmp_path: Path) -> None:
    unit = "mount -t tmpfs none /etc/systemd/system && touch /etc/systemd/system/do-agent.service\n"
    lines = [line for line in _preflight(tmp_path, unit) if line.startswith("conflict:")]
    assert len(lines) == 1 and "(do-agent)" in lines[0], lines
    assert not [line for line in _preflight(tmp_path, "") if line.startswith("conflict:")]


def test_the_guard_refuses_only_the_metadata_services_http_not_dns_at_the_same_address(tmp_path: Path) -> None:
    """Google's and Oracle's clouds answer DNS (and NTP) at 169.254.169.254 too: a guard refusing every
    protocol cut every user but root, and every container, off from names."""
    lines = _run(tmp_path, "GUARD\ndocker_starts\nreport guarded\ndns guarded\n")
    assert lines[1] == "guarded root=200 nobody=000 container=000", lines
    assert lines[2] == "guarded dns nobody=ok container=ok", lines


def test_an_earlier_guards_rules_refusing_every_protocol_go_and_the_guard_stays(tmp_path: Path) -> None:
    earlier = ("iptables -N DOCKER-USER\n"
               "iptables -I OUTPUT -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT\n"
               "iptables -I DOCKER-USER -d 169.254.169.254 -j REJECT\n"
               "iptables -I FORWARD -d 169.254.169.254 -j REJECT\n")
    lines = _run(tmp_path, earlier + "docker_starts\ndns earlier\nGUARD\nreport guarded\ndns guarded\n"
                 "iptables -S | grep -c '169.254.169.254' || true\n")
    assert lines[1] == "earlier dns nobody=no container=no", lines  # what the earlier guard did
    assert lines[2] == "guarded root=200 nobody=000 container=000", lines
    assert lines[3] == "guarded dns nobody=ok container=ok", lines
    assert lines[4] == "3", lines  # the guard's three rules, and nothing of the earlier one's


def test_the_base_step_puts_the_guard_or_its_removal_before_apt() -> None:
    """A host cut off from DNS by an earlier guard could not run apt: the base step reached neither the new
    guard nor, with metadataGuard: false, its removal."""
    for guard in (True, False):
        script = base_script(ssh_port=22, ufw=True, login_user="root", metadata_guard=guard)
        apt = script.index("\napt-get -o DPkg::Lock::Timeout=300 update -qq\n")
        assert script.index("169.254.169.254 -p tcp --dport 80") < apt, guard
