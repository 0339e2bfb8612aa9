"""Compose services on a real Debian 12 or Ubuntu 24.04 host (seed 000's shape): examples/compose-sample's gateway and
backend, each built from its own directory and Dockerfile, as non-root users, behind nginx.

Docker Hub cannot be reached here, so the images' base (`python:3.12-slim` in their Dockerfiles) is the
host image's own debootstrap tree, `docker import`ed under that name before the images are built.
Debian 12 has no Compose v2 package: the first `pulumi up` stops saying so; the plugin is then put
where an operator would put one (built from the Go module proxy by scripts/compose-plugin).

- The gateway calls the backend by its service name; the backend reads its mounted secret file and a
  secret with `$` and quotes in it, as it is.
- Docker's own health checks pass.
- A redeploy of either service under a steady HTTPS load drops no request.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
from collections.abc import Iterator

import pytest
from helpers.workspace import make_tmp

from compose_host import (
    HOSTNAME,
    SECRET_FILE,
    TOKEN,
    compose_project,
    freeze_backend_container,
    import_base_image,
    install_plugin,
)
from load import Load
from local import FIGURES, LocalStack, local_host, reboot


@pytest.fixture(scope="module")
def composed(host) -> Iterator[LocalStack]:
    """A fresh host and a throwaway project of the local stack with only the two compose services."""
    tmp = make_tmp("stackyard-e2e-compose-")
    try:
        yield compose_project(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_debian_12_without_a_compose_plugin_stops_up_saying_what_to_choose(composed: LocalStack) -> None:
    result = composed.up(check=False)
    printed = result.printed()
    if local_host.DISTRO != "debian-12":
        # Ubuntu 24.04's archive has Compose v2 (docker-compose-v2): the step installs it with docker.io
        # (the deploys then fail for want of the images' base, imported by the next test).
        version = composed.ssh("docker compose version").stdout
        assert re.match(r"Docker Compose version v?2\.", version), (version, printed)
        return
    assert result.returncode != 0
    assert "Debian GNU/Linux 12 (bookworm) has no Compose v2 package" in printed, printed
    assert "Set docker.packages: docker (Docker's apt repository) for this host" in printed
    # Docker itself is in: only the plugin is missing, and nothing was deployed.
    assert composed.ssh("docker version --format '{{.Server.Version}}'").stdout.strip()
    assert composed.ssh("test -e /srv/compose-gateway/active", check=False).returncode != 0


def test_compose_services_build_from_their_own_directories_and_call_each_other_by_name(
        composed: LocalStack) -> None:
    if local_host.DISTRO == "debian-12":
        install_plugin()
    seconds = import_base_image()
    result = composed.up()
    FIGURES.append(f"compose: base image imported in {seconds:.1f} s; pulumi up with two compose services "
                   f"{result.seconds:.1f} s")

    status, body = composed.health(HOSTNAME)
    assert status == 200, body
    answer = json.loads(body)
    # The gateway (uid 10002) reached the backend (uid 10001) through http://compose-backend:7000.
    assert answer["version"] == "1" and answer["uid"] == 10002 and answer["backend"]["uid"] == 10001
    # The non-root backend read its secret file, and got the secret with a $ in it as it is.
    assert answer["backend"]["secret_file_sha256"] == hashlib.sha256(SECRET_FILE.encode()).hexdigest()
    assert answer["backend"]["token_sha256"] == hashlib.sha256(TOKEN.encode()).hexdigest()
    # Each image from its own Dockerfile.
    label = "'{{index .Config.Labels \"org.stackyard.sample\"}}'"
    labels = {name: composed.ssh(f"docker image inspect --format {label} stackyard/{name}:blue").stdout.strip()
              for name in ("compose-backend", "compose-gateway")}
    assert labels == {"compose-backend": "backend", "compose-gateway": "gateway"}
    # Docker's own health checks pass, on all three containers.
    states = composed.ssh("docker ps --filter name=compose- --format '{{.Names}} {{.Status}}'").stdout.splitlines()
    assert len(states) == 3 and all("(healthy)" in line for line in states), states
    # The secret file on the host: root's, read through the service's group only.
    mode = composed.ssh("stat -c '%U:%G %a' /etc/stackyard/compose-backend/files/run/secrets/api-key").stdout
    assert mode.strip() == "root:svc-compose-backend 640"
    # The backend's stable port: on loopback for the host, on the network's address for containers.
    listening = {line.split()[3] for line in composed.ssh("ss -Hltn 'sport = :7000'").stdout.splitlines()}
    assert listening == {"127.0.0.1:7000", "172.30.255.1:7000"}, listening


def redeploy_under_load(stack: LocalStack, service: str, ref: str) -> dict[str, int]:
    """Versions the load saw (the backend's, as the gateway reports it)."""
    stack.edit_system(lambda system: system["services"][service]["source"].update(ref=ref))
    with Load(HOSTNAME, rate=20) as load:
        result = stack.up()
    tally = load.tally
    FIGURES.append(f"compose redeploy of {service} ({result.seconds:.1f} s) under 20 req/s: {tally.summary()}")
    assert tally.failed == 0, tally.summary()
    assert stack.health(HOSTNAME)[0] == 200
    return tally.versions


def test_a_redeploy_of_the_called_service_under_load_drops_no_request(composed: LocalStack) -> None:
    """The gateway's calls follow the backend's switch in the proxy: none reaches a stopped container."""
    commit = composed.publish("compose-sample", "2", tag="compose-v2")
    versions = redeploy_under_load(composed, "compose-backend", "compose-v2")
    assert versions.get("1", 0) > 0 and versions.get("2", 0) > 0, versions  # the load spanned the switch
    assert composed.ssh("cut -d' ' -f2 /srv/compose-backend/active").stdout.strip() == commit
    assert json.loads(composed.health(HOSTNAME)[1])["version"] == "2"


def test_a_redeploy_of_the_public_service_under_load_drops_no_request(composed: LocalStack) -> None:
    before = composed.ssh("cut -d' ' -f1 /srv/compose-gateway/active").stdout.strip()
    assert redeploy_under_load(composed, "compose-gateway", "compose-v2").keys() == {"2"}
    assert composed.ssh("cut -d' ' -f1 /srv/compose-gateway/active").stdout.strip() != before
    # The old slot's containers are gone; the new ones are healthy.
    states = composed.ssh("docker ps --filter name=compose-gateway --format '{{.Names}} {{.Status}}'").stdout
    assert len(states.splitlines()) == 1 and "(healthy)" in states, states


def test_the_watchdog_restarts_a_frozen_container_alone(composed: LocalStack) -> None:
    composed.edit_system(lambda system: system["services"]["compose-backend"].update(
        watchdog={"interval": 3, "failures": 2, "restarts": 2}))
    composed.up()
    recovery = freeze_backend_container(composed)
    seconds = f"{recovery.seconds:.1f}" if recovery.seconds is not None else "never"
    FIGURES.append(f"watchdog (compose): a frozen container answered again {seconds} s after kill -STOP (checks "
                   f"every 3 s, restart after 2 failures); the other answered {recovery.other_answers}/"
                   f"{recovery.other_checks} checks")
    assert recovery.seconds is not None
    assert recovery.other_answers == recovery.other_checks
    assert not recovery.other_restarted  # the other instance was left alone
    journal = composed.ssh("journalctl -u stackyard-compose-backend-watchdog --no-pager").stdout
    assert "restarting instance" in journal, journal


def test_after_a_reboot_the_containers_and_the_proxy_on_their_network_are_back(composed: LocalStack) -> None:
    ssh = reboot(composed)
    answered = composed.wait_healthy(HOSTNAME)
    FIGURES.append(f"compose reboot: SSH after {ssh:.1f} s; the gateway answered {answered:.1f} s later")
    status, body = composed.health(HOSTNAME)
    assert status == 200 and json.loads(body)["backend"]["uid"] == 10001
    assert composed.ssh("systemctl --failed --no-legend").stdout.strip() == ""


# Asks the metadata service's address from where it runs; nothing answers there on the local host, so a
# refusal (not a timeout) is the guard's REJECT, and its rule's packet counter says so too.
PROBE = """import socket
s = socket.socket()
s.settimeout(5)
try:
    s.connect(("169.254.169.254", 80))
    print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError as error:
    print("not refused:", error)
"""


def rejected(stack: LocalStack, chain: str) -> int:
    """Packets the guard's rule in CHAIN has refused so far."""
    rules = stack.ssh(f"iptables -L {chain} -v -n -x").stdout.splitlines()
    return sum(int(line.split()[0]) for line in rules if "REJECT" in line and "169.254.169.254" in line)


def test_after_the_reboot_no_container_and_no_service_reaches_the_metadata_service(composed: LocalStack) -> None:
    """After a reboot (Docker has put its own rules in FORWARD again) a container's request is refused
    by the guard's rule in DOCKER-USER, and a service user's by its rule in OUTPUT; the guard came up
    before Docker and before every service."""
    probe = shlex.quote(PROBE)
    before = rejected(composed, "DOCKER-USER")
    container = composed.ssh("docker ps --quiet --filter name=compose-backend | head -n 1").stdout.strip()
    assert container
    assert composed.ssh(f"docker exec {container} python3 -c {probe}").stdout.strip() == "refused"
    assert rejected(composed, "DOCKER-USER") > before
    before = rejected(composed, "OUTPUT")
    out = composed.ssh(f"runuser -u svc-compose-backend -- python3 -c {probe}").stdout.strip()
    assert out == "refused"
    assert rejected(composed, "OUTPUT") > before

    def started(unit: str) -> int:
        return int(composed.ssh(f"systemctl show -p ActiveEnterTimestampMonotonic --value {unit}").stdout)

    guard = started("stackyard-metadata-guard.service")
    assert 0 < guard < started("docker.service")
    assert guard < started("stackyard-compose-backend-watchdog.timer")
