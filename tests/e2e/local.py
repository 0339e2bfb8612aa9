"""The deployed local stack as the e2e tests and the local-host benchmark see it: `pulumi up` on a
throwaway project (tests/helpers/workspace.py), SSH to the host, HTTPS through its proxy, new commits of the
sample apps."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

import yaml
from helpers.workspace import ROOT, Result, Workspace, make_tmp, toolchain_bin

sys.path.insert(0, str(ROOT / "scripts"))
# The tests' host has a disk of its own: `make up`'s host keeps its disk, and its state stays true.
os.environ.setdefault("STACKYARD_LOCAL_DISK", "e2e")

import local_host
import local_stack

HOST_KEY_PATH = local_stack.HOST_KEY_PATH
CANARIES = ("CANARY-local-api-key-5e2b91", "CANARY-local-session-secret-a7c044")
"""The local stack's configured secrets (Pulumi.local.yaml, decrypted with the local passphrase)."""
S3_PORT = 9099
"""Where the S3 server the local stack's backups go to listens (Pulumi.local.yaml's backups.s3)."""
FIGURES: list[str] = []
"""Measurements the e2e tests report at the end of the run (redeploys under load, reboot times)."""


@dataclass
class LocalStack:
    """The deployed local stack, and what the tests need to act on it and look at the host."""

    ws: Workspace
    first: Result | None = None
    """The session's first `pulumi up`, on a fresh host."""
    outputs: list[str] = field(default_factory=list)
    """Everything pulumi printed during the session: searched for secrets by the secrets test."""

    def up(self, *extra: str, check: bool = True) -> Result:
        result = self.ws.up("local", *extra, check=check)
        self.outputs.append(result.output)
        return result

    def ssh(self, command: str, *, check: bool = True, stdin: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*local_host.ssh_args(), f"root@{local_host.GUEST_IP}", command],
                              capture_output=True, text=True, timeout=timeout, input=stdin)
        if check and done.returncode != 0:
            raise AssertionError(f"on the host: {command!r} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done

    def serving_pm2(self, service: str) -> str:
        """The PM2 daemon of the slot a PM2 service serves from (each slot has its own)."""
        color = self.ssh(f"cut -d' ' -f1 /srv/{service}/active").stdout.strip()
        return f"stackyard-{service}-pm2@{color}.service"

    def health(self, hostname: str) -> tuple[int, str]:
        try:
            return local_stack.fetch(hostname)
        except OSError as err:
            return 0, f"{type(err).__name__}: {err}"

    def wait_healthy(self, hostname: str, timeout: float = 90) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.health(hostname)[0] == 200:
                return time.monotonic() - started
            time.sleep(0.5)
        raise AssertionError(f"{hostname} did not answer 200 within {timeout:.0f} s: {self.health(hostname)}")

    def set_config(self, path: str, value) -> None:
        self.ws.run("config", "set", "--path", "--stack", "local", path, str(value))

    def remove_config(self, path: str) -> None:
        self.ws.run("config", "rm", "--path", "--stack", "local", path)

    def publish(self, example: str, version: str, *, tag: str, health: str = "ok", branch: str | None = None) -> str:
        """A new commit of examples/<example> with its VERSION set (and /health broken if asked), tagged;
        main moves to it only if ``branch`` says so, so `ref: main` stays the first release otherwise."""
        tree = make_tmp("stackyard-example-") / example
        shutil.copytree(ROOT / "examples" / example, tree)
        main = tree / {"fastapi-sample": "app/main.py"}.get(example, "backend/app.py")
        text = main.read_text().replace('VERSION = "1"', f'VERSION = "{version}"')
        if health != "ok":
            text = text.replace('return {"status": "ok", "version": VERSION, "instance": os.environ.get("PORT")}',
                                'from fastapi.responses import JSONResponse\n'
                                '    return JSONResponse({"status": "broken on purpose"}, status_code=503)')
        main.write_text(text)
        bare = local_host.PATHS.repos / f"{example}.git"
        sha = local_host.commit_tree(bare, tree, f"{example} {version}", branch=branch)  # None: main stays
        subprocess.run(["git", f"--git-dir={bare}", "tag", "--force", tag, sha], check=True, capture_output=True)
        subprocess.run(["git", f"--git-dir={bare}", "update-server-info"], check=True)
        shutil.rmtree(tree.parent, ignore_errors=True)
        return sha

    def edit_system(self, change) -> None:
        """Changes the local system in the project's stack file: structured values, which `config set`
        would store as strings."""
        path = self.ws.stack_file("local")
        document = yaml.safe_load(path.read_text())
        change(document["config"]["stackyard:systems"]["local"])
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def urn(self, name: str) -> str:
        resources = self.ws.export("local")["deployment"]["resources"]
        return next(r["urn"] for r in resources if r["urn"].endswith(f"::{name}"))


@dataclass
class Recovery:
    """A FastAPI instance frozen with SIGSTOP, and how the watchdog brought it back."""

    color: str
    frozen: int
    other: int
    seconds: float | None
    """From the freeze to a new process answering on the frozen port; None if that did not happen."""
    other_answers: int
    other_checks: int


def freeze_fastapi_instance(stack: LocalStack, timeout: float = 90) -> Recovery:
    """Freezes the first FastAPI instance of the serving slot and waits for the watchdog to replace it,
    checking the other instance meanwhile (each check a curl on the host)."""
    def answers(port: int) -> bool:
        return stack.ssh(f"curl -sf --max-time 2 http://127.0.0.1:{port}/health >/dev/null",
                         check=False).returncode == 0

    color = stack.ssh("cut -d' ' -f1 /srv/fastapi-sample/active").stdout.strip()
    frozen, other = (9000, 9001) if color == "blue" else (10000, 10001)
    unit = f"stackyard-fastapi-sample-{color}@{frozen}.service"
    pid = stack.ssh(f"systemctl show -p MainPID --value {unit}").stdout.strip()
    stack.ssh(f"kill -STOP {pid}")
    started = time.monotonic()
    recovery = Recovery(color, frozen, other, None, 0, 0)
    while time.monotonic() - started < timeout:
        recovery.other_checks += 1
        recovery.other_answers += answers(other)
        new_pid = stack.ssh(f"systemctl show -p MainPID --value {unit}").stdout.strip()
        if new_pid not in (pid, "0") and answers(frozen):
            recovery.seconds = time.monotonic() - started
            break
        time.sleep(0.5)
    return recovery


def local_project(tmp, secrets: dict[str, str] | None = None) -> LocalStack:
    """The local stack in a throwaway project at ``tmp``, pinned to the running host, not applied yet;
    ``secrets``: stack secrets to add to the host's SSH key."""
    ws = Workspace(tmp, toolchain_bin(), passphrase=local_stack.LOCAL_PASSPHRASE, env={"STACKYARD_RESOLVE_REFS": "on"})
    ws.init("local", copy_from=ROOT / "Pulumi.local.yaml",
            secrets={"localSshKey": local_host.PATHS.key.read_text(), **(secrets or {})})
    ws.run("config", "set", "--path", "--stack", "local", HOST_KEY_PATH, local_host.host_key())
    return LocalStack(ws)


def deploy_local_stack(tmp) -> LocalStack:
    """The local stack in a throwaway project, pinned to the running host, applied once."""
    deployed = local_project(tmp)
    deployed.first = deployed.up()
    return deployed


def reboot(stack: LocalStack) -> float:
    """Reboots the host and waits for SSH; the seconds that took. Fails unless it did boot again."""
    before = stack.ssh("cat /proc/sys/kernel/random/boot_id").stdout.strip()
    started = time.monotonic()
    stack.ssh("systemctl reboot", check=False)
    # Until the host answers with another boot's ID: Ubuntu 24.04's sshd still answered for seconds of its
    # shutdown, and the test went on against a host about to go down.
    deadline = time.monotonic() + 180
    while True:
        time.sleep(1)
        local_host.wait_for_ssh()
        now = stack.ssh("cat /proc/sys/kernel/random/boot_id", check=False)
        if now.returncode == 0 and now.stdout.strip() != before:
            return time.monotonic() - started
        assert time.monotonic() < deadline, "the host did not boot again within 180 s"
