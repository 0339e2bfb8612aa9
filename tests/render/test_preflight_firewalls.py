"""The pre-flight and the operator's own firewall: ufw, which the base step installs and turns on, would
remove netfilter-persistent (its rules gone at the next boot) and drop what a routing server forwards.
Run for real: the rendered check in a network namespace of its own, with the real iptables."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from components.render.preflight import PreflightPlan, _other_firewalls

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("iptables") is None
    or subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode != 0,
    reason="needs unshare --net (root) and iptables")


def conflicts(setup: str, installed: str = "", ufw: bool = True) -> list[str]:
    check = "\n".join(_other_firewalls(PreflightPlan(system="s", host="h", accessories={}, services=[], ufw=ufw)))
    script = (f'set -uo pipefail\nconflict() {{ echo "conflict: $*"; }}\n'
              f"servers_installed() {{ printf %s {installed!r}; }}\n{setup}\n{check}\n")
    done = subprocess.run(["unshare", "--net", "bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.startswith("conflict:")]


def test_a_server_that_forwards_is_a_conflict() -> None:
    found = conflicts("echo 1 > /proc/sys/net/ipv4/ip_forward")
    assert len(found) == 1 and "forwards traffic" in found[0] and "systems.s.hosts.h.ufw: false" in found[0], found


@pytest.mark.parametrize("setup", ["",  # forwarding off
                                   "echo 1 > /proc/sys/net/ipv4/ip_forward; iptables -P FORWARD DROP"])  # Docker's
def test_a_server_that_does_not_forward_or_drops_what_it_would_is_none(setup: str) -> None:
    assert conflicts(setup) == []


def test_netfilter_persistent_is_a_conflict_and_nothing_is_one_without_ufw() -> None:
    found = conflicts("", installed="netfilter-persistent 1.0.20")
    assert len(found) == 1 and "netfilter-persistent 1.0.20 is installed" in found[0], found
    assert conflicts("echo 1 > /proc/sys/net/ipv4/ip_forward", installed="firewalld 1.3.3", ufw=False) == []


NGINX_CONF = "events {}\nhttp { server { listen 127.0.0.1:80; return 204; } }\npid PREFIX/nginx.pid;\n"


@pytest.mark.skipif(not shutil.os.path.exists("/usr/sbin/nginx"), reason="needs the nginx package")
@pytest.mark.parametrize("holder", ["the nginx package", "another binary called nginx"])
def test_port_80_is_the_proxys_only_when_the_packages_binary_holds_it(holder: str, tmp_path) -> None:
    """Round 37: any process named nginx on 80/443 passed as the proxy (OpenResty, one built from source, a
    container on the host's network); the package installed beside it fights it for the ports at every boot."""
    from components.render.preflight import preflight_script

    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(NGINX_CONF.replace("PREFIX", str(tmp_path)))
    binary = "/usr/sbin/nginx"
    if holder != "the nginx package":
        binary = str(tmp_path / "nginx")
        shutil.copy("/usr/sbin/nginx", binary)
    script = preflight_script(PreflightPlan(system="s", host="h", accessories={}, services=[], proxy="nginx"))
    start = script.index("check_port() {")
    functions = script[start:script.index("\n}\n", script.index("packaged() {")) + 3]
    run = (f"ip link set lo up\n{binary} -p {tmp_path} -c {tmp_path}/nginx.conf -e {tmp_path}/error.log\n"
           f"trap 'kill $(cat {tmp_path}/nginx.pid)' EXIT\nsleep 0.5\nlisteners=$(ss -Hltnp)\n"
           f'conflict() {{ echo "conflict: $*"; }}\n{functions}check_port 80 nginx \'\' HTTP\n')
    done = subprocess.run(["unshare", "--net", "bash", "-c", run], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    found = [line for line in done.stdout.splitlines() if line.startswith("conflict:")]
    assert found == ([] if holder == "the nginx package" else [found[0]]), done.stdout + done.stderr
    if found:
        assert "port 80 (HTTP) is held by nginx" in found[0]


def test_the_port_of_each_database_stackyard_installs_is_looked_at() -> None:
    """Round 37: a MySQL or Redis in a container, published on loopback, passed: the package's server,
    enabled by its install, then fought it for the port at every boot. An existing one is the operator's."""
    from components.render.preflight import preflight_script

    script = preflight_script(PreflightPlan(system="s", host="h", accessories={"mysql": False, "redis": True},
                                            services=[]))
    assert "check_port 3306 'mariadbd mysqld' ''" in script
    assert "check_port 6379" not in script
