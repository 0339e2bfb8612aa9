"""Compose services on a real Debian 12 host (seed 000's shape): examples/compose-sample's gateway and
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
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from load import Load
from local import FIGURES, LocalStack, local_host, local_project, reboot
from workspace import ROOT, make_tmp

HOSTNAME = "compose.stackyard.test"
SECRET_FILE = "key-file-9c41d2: read by a non-root container"
TOKEN = "tok$en-${HOME}-'q\"-7d1e"  # compose would expand a $ it was given as is
PLUGIN = Path.home() / ".cache/stackyard/compose/v2.40.3/docker-compose"


def compose_services() -> dict:
    source = {"repo": local_host.repo_url("compose-sample"), "ref": "main"}
    health = {"path": "/health", "interval": 1, "timeout": 5, "retries": 30}
    return {
        "compose-backend": {
            "host": "box", "runtime": "compose", "source": source, "build": {"context": "backend"},
            "port": 7000, "containerPort": 8080, "instances": 2, "health": health,
            "watchdog": {"enabled": False},
            "env": {"TOKEN": {"secret": "composeToken"}, "SECRET_FILE": "/run/secrets/api-key"},
            "files": {"/run/secrets/api-key": {"secret": "composeKeyFile"}},
        },
        "compose-gateway": {
            "host": "box", "runtime": "compose", "source": dict(source), "build": {"context": "gateway"},
            "port": 7100, "containerPort": 8080, "hostnames": [HOSTNAME], "health": health,
            "watchdog": {"enabled": False},
            "env": {"BACKEND_URL": "http://compose-backend:7000"},
        },
    }


@pytest.fixture(scope="module")
def composed(host) -> Iterator[LocalStack]:
    """A fresh host and a throwaway project of the local stack with only the two compose services."""
    if not PLUGIN.exists():
        subprocess.run(["bash", str(ROOT / "scripts/compose-plugin")], check=True)
    assert PLUGIN.exists(), f"scripts/compose-plugin did not build {PLUGIN} (it needs go and a docker CLI here)"
    local_host.down()
    local_host.up(fresh=True)
    tmp = make_tmp("stackyard-e2e-compose-")
    stack = local_project(tmp, {"composeToken": TOKEN, "composeKeyFile": SECRET_FILE})

    def only_compose(system: dict) -> None:
        box = system["hosts"]["box"]
        box.pop("accessories")
        box.pop("backups")
        box["proxy"].pop("static")
        system["services"] = compose_services()

    stack.edit_system(only_compose)
    try:
        yield stack
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def import_base_image(stack: LocalStack) -> float:
    """The host image's debootstrap tree (without its SSH host keys) as `python:3.12-slim` on the host."""
    started = time.monotonic()
    image = local_host.build_image()  # cached: the tree the host itself was copied from
    stream = subprocess.Popen([*local_host.ssh_args(), f"root@{local_host.GUEST_IP}",
                               "docker import - python:3.12-slim >/dev/null"], stdin=subprocess.PIPE)
    with tarfile.open(fileobj=stream.stdin, mode="w|") as tar:
        for entry in sorted(image.iterdir()):
            if entry.name not in ("proc", "sys", "dev", "run", "tmp"):
                tar.add(entry, arcname=entry.name,
                        filter=lambda info: None if "/ssh_host_" in "/" + info.name else info)
    stream.stdin.close()
    assert stream.wait() == 0
    return time.monotonic() - started


def test_debian_12_without_a_compose_plugin_stops_up_saying_what_to_choose(composed: LocalStack) -> None:
    result = composed.up(check=False)
    printed = result.printed()
    assert result.returncode != 0
    assert "Debian GNU/Linux 12 (bookworm) has no Compose v2 package" in printed, printed
    assert "Set docker.packages: docker (Docker's apt repository) for this host" in printed
    # Docker itself is in: only the plugin is missing, and nothing was deployed.
    assert composed.ssh("docker version --format '{{.Server.Version}}'").stdout.strip()
    assert composed.ssh("test -e /srv/compose-gateway/active", check=False).returncode != 0


def test_compose_services_build_from_their_own_directories_and_call_each_other_by_name(
        composed: LocalStack) -> None:
    with PLUGIN.open("rb") as binary:
        subprocess.run([*local_host.ssh_args(), f"root@{local_host.GUEST_IP}",
                        "install -d /usr/libexec/docker/cli-plugins && "
                        "cat > /usr/libexec/docker/cli-plugins/docker-compose && "
                        "chmod 0755 /usr/libexec/docker/cli-plugins/docker-compose"], stdin=binary, check=True)
    seconds = import_base_image(composed)
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


def started_of(stack: LocalStack, container: str) -> str:
    return stack.ssh(f"docker inspect --format '{{{{.State.StartedAt}}}}' {container}").stdout.strip()


def test_the_watchdog_restarts_a_frozen_container_alone(composed: LocalStack) -> None:
    composed.edit_system(lambda system: system["services"]["compose-backend"].update(
        watchdog={"interval": 3, "failures": 2, "restarts": 2}))
    composed.up()
    color = composed.ssh("cut -d' ' -f1 /srv/compose-backend/active").stdout.strip()
    # Compose names a container <project>-<service>-<n>: the slot's project, the instance's service.
    frozen, other = (f"compose-backend-{color}-compose-backend-{i}-1" for i in (0, 1))
    ports = {"blue": (8000, 8001), "green": (9000, 9001)}[color]
    started_at, other_started = started_of(composed, frozen), started_of(composed, other)
    # The app itself, under the container's init (docker-init): SIGSTOP leaves it running and deaf.
    init = composed.ssh(f"docker inspect --format '{{{{.State.Pid}}}}' {frozen}").stdout.strip()
    composed.ssh(f"kill -STOP $(pgrep -P {init})")
    started = time.monotonic()
    seconds, other_ok, checks = None, 0, 0
    while time.monotonic() - started < 120:
        checks += 1
        other_ok += composed.ssh(f"curl -sf --max-time 2 http://127.0.0.1:{ports[1]}/health >/dev/null",
                                 check=False).returncode == 0
        answers = composed.ssh(f"curl -sf --max-time 2 http://127.0.0.1:{ports[0]}/health", check=False)
        if started_of(composed, frozen) != started_at and answers.returncode == 0:
            seconds = time.monotonic() - started
            break
        time.sleep(0.5)
    FIGURES.append(f"watchdog (compose): a frozen container answered again {seconds and round(seconds, 1)} s "
                   "after kill -STOP (checks every 3 s, restart after 2 failures); "
                   f"the other answered {other_ok}/{checks} checks")
    assert seconds is not None
    assert other_ok == checks
    assert started_of(composed, other) == other_started  # the other instance was left alone
    assert f"restarting instance {ports[0]}" in composed.ssh(
        "journalctl -u stackyard-compose-backend-watchdog --no-pager").stdout


def test_after_a_reboot_the_containers_and_the_proxy_on_their_network_are_back(composed: LocalStack) -> None:
    ssh = reboot(composed)
    answered = composed.wait_healthy(HOSTNAME)
    FIGURES.append(f"compose reboot: SSH after {ssh:.1f} s; the gateway answered {answered:.1f} s later")
    status, body = composed.health(HOSTNAME)
    assert status == 200 and json.loads(body)["backend"]["uid"] == 10001
    assert composed.ssh("systemctl --failed --no-legend").stdout.strip() == ""
