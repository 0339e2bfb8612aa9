"""The compose-sample system on a fresh local host, as the compose e2e tests and the compose benchmark
use it: examples/compose-sample's gateway and backend, the Compose plugin put where an operator would
put one (Debian 12 has no package of it), and the images' base imported from the host image's own
debootstrap tree (Docker Hub cannot be reached here)."""

from __future__ import annotations

import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.workspace import ROOT

from local import LocalStack, local_host, local_project

HOSTNAME = "compose.stackyard.test"
SECRET_FILE = "key-file-9c41d2: read by a non-root container"
TOKEN = "tok$en-${HOME}-'q\"-7d1e"  # compose would expand a $ it was given as is
PLUGIN = Path.home() / ".cache/stackyard/compose/v2.40.3/docker-compose"
BACKEND_PORTS = {"blue": (8000, 8001), "green": (9000, 9001)}
"""The backend's instance ports per slot (its port 7000, +1000 blue, +2000 green)."""


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


def compose_project(tmp: Path) -> LocalStack:
    """A fresh host, and a throwaway project of the local stack with only the two compose services
    (no accessories, backups or static root); not applied yet."""
    if not PLUGIN.exists():
        subprocess.run(["bash", str(ROOT / "scripts/compose-plugin")], check=True)
    assert PLUGIN.exists(), f"scripts/compose-plugin did not build {PLUGIN} (it needs go and a docker CLI here)"
    local_host.down()
    local_host.up(fresh=True)
    stack = local_project(tmp, {"composeToken": TOKEN, "composeKeyFile": SECRET_FILE})

    def only_compose(system: dict) -> None:
        box = system["hosts"]["box"]
        box.pop("accessories")
        box.pop("backups")
        box["proxy"].pop("static")
        system["services"] = compose_services()

    stack.edit_system(only_compose)
    return stack


def install_plugin() -> None:
    """The Compose plugin into the host's /usr/libexec/docker/cli-plugins, as an operator installs one."""
    with PLUGIN.open("rb") as binary:
        subprocess.run([*local_host.ssh_args(), f"root@{local_host.GUEST_IP}",
                        "install -d /usr/libexec/docker/cli-plugins && "
                        "cat > /usr/libexec/docker/cli-plugins/docker-compose && "
                        "chmod 0755 /usr/libexec/docker/cli-plugins/docker-compose"], stdin=binary, check=True)


def import_base_image() -> float:
    """The host image's debootstrap tree (without its SSH host keys) as `python:3.12-slim` on the host;
    the seconds that took. Docker must run there already."""
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


def started_of(stack: LocalStack, container: str) -> str:
    return stack.ssh(f"docker inspect --format '{{{{.State.StartedAt}}}}' {container}").stdout.strip()


@dataclass
class ContainerRecovery:
    """A backend container frozen with SIGSTOP, and how the watchdog brought it back."""

    frozen: str
    other: str
    seconds: float | None
    """From the freeze to the restarted container answering; None if that did not happen."""
    other_answers: int
    other_checks: int
    other_restarted: bool


def freeze_backend_container(stack: LocalStack, timeout: float = 120) -> ContainerRecovery:
    """Freezes the app in the first backend container of the serving slot (not the container's init)
    and waits for the watchdog to restart it, checking the other instance meanwhile."""
    color = stack.ssh("cut -d' ' -f1 /srv/compose-backend/active").stdout.strip()
    # Compose names a container <project>-<service>-<n>: the slot's project, the instance's service.
    frozen, other = (f"compose-backend-{color}-compose-backend-{i}-1" for i in (0, 1))
    ports = BACKEND_PORTS[color]
    started_at, other_started = started_of(stack, frozen), started_of(stack, other)
    init = stack.ssh(f"docker inspect --format '{{{{.State.Pid}}}}' {frozen}").stdout.strip()
    stack.ssh(f"kill -STOP $(pgrep -P {init})")
    started = time.monotonic()
    recovery = ContainerRecovery(frozen, other, None, 0, 0, False)
    while time.monotonic() - started < timeout:
        recovery.other_checks += 1
        recovery.other_answers += stack.ssh(f"curl -sf --max-time 2 http://127.0.0.1:{ports[1]}/health "
                                            ">/dev/null", check=False).returncode == 0
        answers = stack.ssh(f"curl -sf --max-time 2 http://127.0.0.1:{ports[0]}/health", check=False)
        if started_of(stack, frozen) != started_at and answers.returncode == 0:
            recovery.seconds = time.monotonic() - started
            break
        time.sleep(0.5)
    recovery.other_restarted = started_of(stack, other) != other_started
    return recovery
