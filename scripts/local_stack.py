#!/usr/bin/env python3
"""local_stack: the `local` stack on the local Debian host, through the real `pulumi`.

    scripts/local_stack.py up [--fresh]   host up (scripts/local_host.py), then `pulumi up --stack local`
    scripts/local_stack.py destroy        `pulumi destroy` and `pulumi stack rm` of the local stack
    scripts/local_stack.py check          which of the stack's URLs answer
    scripts/local_stack.py pulumi ARGS    any pulumi command on the local stack (its config file added)

`Pulumi.local.yaml` is the stack as committed. What only this machine knows goes into a copy of it,
~/.cache/stackyard/local-host/stack/Pulumi.local.yaml, which every command here passes to pulumi
with --config-file: the host key to pin (made when the image was built) and the SSH key stackyard
logs in with (`stackyard:localSshKey`, set with --secret from stdin). The passphrase is the
documented local one, stackyard-local-passphrase, unless PULUMI_CONFIG_PASSPHRASE[_FILE] is set.
Each phase prints its wall time.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import local_host

REPO = Path(__file__).resolve().parent.parent
STACK = "local"
STACK_FILE = REPO / "Pulumi.local.yaml"
CONFIG_COPY = local_host.CACHE / "stack" / ("" if local_host.DISTRO == "debian-12" else local_host.DISTRO) / \
    "Pulumi.local.yaml"
LOCAL_PASSPHRASE = "stackyard-local-passphrase"
HOST_KEY_PATH = "stackyard:systems.local.hosts.box.access.hostKey"


def environment() -> dict[str, str]:
    """The toolchain's environment (scripts/pulumi-toolchain), the repository's backend, the passphrase."""
    exports = subprocess.run([REPO / "scripts" / "pulumi-toolchain", "env"], capture_output=True, text=True,
                             check=True).stdout
    env = dict(os.environ)
    for line in exports.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = subprocess.run(["bash", "-c", f"printf %s {value}"], capture_output=True, text=True).stdout
    if "PULUMI_CONFIG_PASSPHRASE" not in env and "PULUMI_CONFIG_PASSPHRASE_FILE" not in env:
        env["PULUMI_CONFIG_PASSPHRASE"] = LOCAL_PASSPHRASE
    if local_host.DISTRO != "debian-12":
        # Each distribution's host has its own disk, so its own state: one state describing both would
        # take what the other's steps did for done.
        env["PULUMI_BACKEND_URL"] = f"{env['PULUMI_BACKEND_URL'].rstrip('/')}-{local_host.DISTRO}"
    Path(env["PULUMI_BACKEND_URL"].removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    return env


WITHOUT_CONFIG = ("cancel", "stack", "state", "version", "about", "whoami", "plugin", "login", "logout")
"""Commands that read no stack config: they refuse --config-file (`pulumi cancel` after a killed `up`)."""


def pulumi(*args: str, env: dict[str, str], stdin: str | None = None, check: bool = True, stream: bool = False,
           config_file: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["pulumi", *args, "--stack", STACK, "--non-interactive"]
    if config_file and (not args or args[0] not in WITHOUT_CONFIG):
        argv += ["--config-file", str(CONFIG_COPY)]
    if stream:
        done = subprocess.run(argv, cwd=REPO, env=env, text=True)
    else:
        done = subprocess.run(argv, cwd=REPO, env=env, input=stdin, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"local-stack: {' '.join(argv)} failed ({done.returncode})\n"
                         f"{(done.stdout or '')[-4000:]}{(done.stderr or '')[-4000:]}")
    return done


def prepare(env: dict[str, str]) -> None:
    """The stack in the backend, and the config copy with this machine's host key and SSH key."""
    selected = subprocess.run(["pulumi", "stack", "select", "--create", STACK, "--secrets-provider", "passphrase",
                               "--non-interactive"], cwd=REPO, env=env, capture_output=True, text=True)
    if selected.returncode != 0:
        raise SystemExit(f"local-stack: cannot select the local stack:\n{selected.stderr}")
    CONFIG_COPY.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(STACK_FILE, CONFIG_COPY)
    pulumi("config", "set", "--path", HOST_KEY_PATH, local_host.host_key(), env=env)
    pulumi("config", "set", "--secret", "stackyard:localSshKey", env=env,
           stdin=local_host.PATHS.key.read_text())


def services() -> dict[str, dict]:
    import yaml

    config = yaml.safe_load(STACK_FILE.read_text())["config"]
    return config["stackyard:systems"]["local"]["services"]


def certificate(hostname: str) -> Path:
    """The host's certificate for ``hostname`` (self-signed: tls internal), to verify HTTPS against."""
    return local_host.PATHS.disk / "etc/letsencrypt/live" / hostname / "fullchain.pem"


class HostConnection(http.client.HTTPSConnection):
    """HTTPS to ``address``, with the service's hostname as TLS name and Host: curl's --resolve."""

    def __init__(self, hostname: str, address: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(hostname, 443, context=context, timeout=timeout)
        self.address = address
        self.tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def fetch(hostname: str, path: str = "/health", timeout: float = 5, cafile: Path | None = None) -> tuple[int, str]:
    """GET https://<hostname><path> from the host's address, verified against the host's own certificate
    (or ``cafile``'s roots)."""
    context = ssl.create_default_context(cafile=str(cafile or certificate(hostname)))
    connection = HostConnection(hostname, local_host.GUEST_IP, context, timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def check(quiet: bool = False) -> dict[str, int]:
    answers: dict[str, int] = {}
    for service in services().values():
        health = (service.get("health") or {}).get("path", "/health")
        for hostname in service.get("hostnames", []):
            url = f"https://{hostname}{health}"
            try:
                status, body = fetch(hostname, health)
            except OSError as err:
                status, body = 0, str(err)
            answers[url] = status
            if not quiet:
                print(f"  {url:<45} {status}  {body.strip()[:80]}")
                print(f"    curl --resolve {hostname}:443:{local_host.GUEST_IP} --cacert {certificate(hostname)} "
                      f"{url}")
    return answers


def stack_file_mistakes() -> bool:
    """Checks Pulumi.local.yaml before anything boots, as `make preview` checks a stack file: its
    mistakes printed with their paths (components/stack_file.py), no traceback; True when it has any."""
    return subprocess.run([sys.executable, "-m", "components.stack_file", str(STACK_FILE)], cwd=REPO).returncode != 0


def up(fresh: bool) -> int:
    if stack_file_mistakes():
        return 1
    timings: dict[str, float] = {}
    started = time.monotonic()
    timings.update(local_host.up(fresh))
    env = environment()
    phase = time.monotonic()
    if fresh:
        # A clean disk has none of what the state says was done: forget the state (without running any
        # removal on the host), and provision from the start.
        pulumi("stack", "rm", "--force", "--yes", "--preserve-config", env=env, check=False, config_file=False)
    prepare(env)
    timings["stack config"] = time.monotonic() - phase
    phase = time.monotonic()
    print(f"[local-stack] pulumi up --stack {STACK} (pulumi from {shutil.which('pulumi', path=env['PATH'])})",
          flush=True)
    done = pulumi("up", "--yes", "--skip-preview", env=env, stream=True, check=False)
    timings["pulumi up"] = time.monotonic() - phase
    phase = time.monotonic()
    print("[local-stack] the stack's URLs:")
    answers = check()
    timings["check"] = time.monotonic() - phase
    timings["total"] = time.monotonic() - started
    for name, seconds in timings.items():
        print(f"[local-stack] {name:<14} {seconds:7.1f} s")
    if done.returncode != 0:
        print("[local-stack] pulumi up failed: see its output above", file=sys.stderr)
        return done.returncode
    return 0 if answers and all(status == 200 for status in answers.values()) else 1


def destroy() -> int:
    env = environment()
    if not CONFIG_COPY.exists():
        shutil.copy(STACK_FILE, CONFIG_COPY)
    done = pulumi("destroy", "--yes", env=env, stream=True, check=False)
    if done.returncode == 0:
        pulumi("stack", "rm", "--yes", "--preserve-config", env=env, config_file=False)
        CONFIG_COPY.unlink(missing_ok=True)
    return done.returncode


def main(argv: list[str]) -> int:
    assert __doc__ is not None  # the module's docstring, first line above
    parser = argparse.ArgumentParser(prog="local_stack.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up")
    up_parser.add_argument("--fresh", action="store_true", help="start the host from a clean disk")
    sub.add_parser("destroy")
    sub.add_parser("check")
    passthrough = sub.add_parser("pulumi")
    passthrough.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(args.fresh)
    if args.command == "destroy":
        return destroy()
    if args.command == "check":
        return 0 if all(status == 200 for status in check().values()) else 1
    return pulumi(*args.args, env=environment(), stream=True, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
