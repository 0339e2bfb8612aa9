"""Hostile values that the model accepts, followed into what stackyard renders for the host.

For every string of the hosts and services of the three stacks (tests/helpers/hostile.py) and every hostile
value the model lets through (a shell command, a value, free text...), the program runs under mocks.
Each script, command line and file that changed from the stack as it is is then

- run with every command a stub (bash's command_not_found_handle, in a mount namespace whose /etc,
  /srv, /var, /usr/local, /opt, /root, /home and /tmp are empty): the hostile value's own command,
  `touch /tmp/stackyard-pwned`, must never run. What a shell command field says to run reaches
  `runuser` (the service's user) as one argument, by design, and that is not running it;
- checked by its real tool: every script by shellcheck, every unit by systemd-analyze verify, every
  PM2 ecosystem file by node;
- for env files, read back in its runtime's own form: the value is there, byte for byte.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from helpers.harness import canary_secrets, referenced_secrets, run_program
from helpers.hostile import CANARY, HOSTILE, STACKS, config_path, load, replaced, slots, stack

SANDBOX_ENV = ("command_not_found_handle() {\n"
               "  printf '%s\\0' \"$*\" >> \"$STUB_LOG\"\n"
               "  while IFS= read -r _ 2>/dev/null; do :; done  # a stub reads what it is fed, as the command would\n"
               "  return 0\n"
               "}\n")
needs = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("shellcheck") is None,
                           reason="needs root (a mount namespace), unshare and shellcheck")


def narrowed(config: dict, system: str) -> dict:
    """The one system, without what reaches no host (frontends, Supabase, Actions secrets)."""
    spec = copy.deepcopy(config["stackyard:systems"][system])
    for key in ("frontends", "supabase", "github"):
        spec.pop(key, None)
    return {**config, "stackyard:systems": {system: spec}}


def rendered(config: dict) -> dict[tuple[str, str], str]:
    """(resource, input) -> text of every remote command's create, update, delete and plain stdin."""
    secrets = {name: f"secret-{name}" for name in referenced_secrets(config)} | canary_secrets(config)
    run = run_program(config, secrets)
    out = {}
    for reg in run.of_type("command:remote:Command"):
        for key in ("create", "update", "delete", "stdin"):
            value = reg.inputs.get(key)
            if isinstance(value, str):
                out[(reg.name, key)] = value
    return out


def run_stubbed(script: str, sandbox: Path, *args: str, before: str = "", env: str = "") -> list[str]:
    """Runs ``script`` with bash where every command is a stub, nothing written reaching this machine;
    returns the commands it ran, as their words joined. ``before`` runs first, with the real commands
    (to make directories in the emptied ones); ``env`` is added to the script's environment."""
    (sandbox / "script").write_text(script)
    log = sandbox / "log"
    log.write_bytes(b"")
    masks = " ".join(("/etc", "/srv", "/var", "/usr/local", "/opt", "/root", "/home", "/tmp"))
    subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                    f"for d in {masks}; do mount -t tmpfs tmpfs $d; done; {before} exec env -i PATH=/nonexistent "
                    f"{env} BASH_ENV={sandbox}/env.sh STUB_LOG={log} /bin/bash {sandbox}/script {' '.join(args)} "
                    "</dev/null"],
                   capture_output=True, timeout=60)
    return [call for call in log.read_bytes().decode(errors="replace").split("\0") if call]


def heredoc_files(script: str) -> dict[str, str]:
    """path -> content of every file a script writes with `cat > PATH[.new] <<'TAG'`."""
    return {m.group(1): m.group(3) for m in re.finditer(
        r"^cat > (\S+?)(?:\.new)? <<'(STACKYARD_EOF_\w+)'\n(.*?)^\2$", script, re.M | re.S)}


def env_values(text: str) -> list[str]:
    """The values of an env file, read both ways stackyard writes one: systemd's and Compose's double
    quotes (\\\\, \\" and \\$ undone, everything else as it is), and PM2's JSON strings."""
    values = []
    for match in re.finditer(r'^[A-Za-z_][A-Za-z0-9_]*="((?:[^"\\]|\\.)*)"$', text, re.M | re.S):
        values.append(re.sub(r'\\([\\"$`])', r"\1", match.group(1)))
    for line in text.splitlines():
        value = line.partition("=")[2]
        if value.startswith('"'):
            with contextlib.suppress(ValueError):
                values.append(json.loads(value))
    return values


def host_slots(name: str):
    for slot in slots(name):
        if len(slot.path) > 3 and slot.path[2] in ("hosts", "services"):
            yield slot


@needs
@pytest.mark.parametrize("name", list(STACKS))
def test_accepted_hostile_values_never_run_and_what_they_reach_passes_its_tool(name: str, tmp_path: Path) -> None:
    config = stack(name)
    sandbox = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="stackyard-sandbox-"))
    (sandbox / "env.sh").write_text(SANDBOX_ENV)
    baselines: dict[str, dict] = {}
    ran, unread, scripts, units, ecosystems = [], [], {}, {}, {}
    cases = 0
    try:
        for slot in host_slots(name):
            system = slot.path[1]
            if system not in baselines:
                baselines[system] = rendered(narrowed(config, system))
            for label, value in HOSTILE.items():
                changed = replaced(narrowed(config, system), slot.path, value, key=slot.is_key)
                if load(changed) is not None:
                    continue
                cases += 1
                where = f"{config_path(slot.path)} ({label})"
                for key, text in rendered(changed).items():
                    if baselines[system].get(key) == text:
                        continue
                    resource, field = key
                    if field == "stdin" and (resource.endswith("-env") or "-file-" in resource):
                        if CANARY in text and value not in env_values(text) and not slot.is_key:
                            unread.append(f"{where}: {resource}")
                        continue
                    calls = run_stubbed(text, sandbox)
                    if any(call.startswith("touch ") and "stackyard-pwned" in call for call in calls):
                        ran.append(f"{where}: {resource} {field}")
                    if field == "stdin":
                        scripts[f"{resource}.sh"] = text
                        for path, content in heredoc_files(text).items():
                            base = path.rsplit("/", 1)[-1]
                            if base.endswith(".service") and "ExecStart=/srv/" not in content:
                                # (the watchdog's runs a script only the host has: tests/render/test_render_tools.py)
                                units[f"{resource}-{base}"] = content
                            elif base.endswith(".config.js"):
                                ecosystems[f"{resource}-{base}"] = content
                            elif content.startswith("#!/usr/bin/env bash"):
                                scripts[f"{resource}-{base}.sh"] = content
                            if base == "deploy":
                                # The deploy of a new commit, as far as its build: the service's own steps
                                # go to its user (runuser, a stub here), and nothing else runs them.
                                service = path.split("/")[2]
                                sha = "0" * 40
                                calls = run_stubbed(content, sandbox, sha, env="STACKYARD_ROOT=/tmp/r", before=(
                                    f"mkdir -p /tmp/r/srv/{service}/releases/{sha} /tmp/r/srv/{service}/state "
                                    f"/tmp/r/etc/stackyard/{service}/staged;"))
                                if not any(c.startswith("git ") and " clone " in c for c in calls):
                                    unread.append(f"{where}: {resource}: the deploy never reached its build")
                                if any(c.startswith("touch ") and "stackyard-pwned" in c for c in calls):
                                    ran.append(f"{where}: {resource} deploy")
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)
    assert cases > 0
    assert ran == []
    assert unread == []
    for file, text in scripts.items():
        (tmp_path / file.replace("/", "_")).write_text(text)
    checked = subprocess.run(["shellcheck", "--shell=bash", "--severity=style",
                              *(str(tmp_path / f.replace("/", "_")) for f in scripts)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout[-4000:]
    if shutil.which("systemd-analyze"):
        for file, text in units.items():
            unit = tmp_path / file.replace("/", "_").replace("@.service", "@9000.service")
            unit.write_text(text)
            done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
            assert done.returncode == 0, f"{file}: {done.stderr}"
    if shutil.which("node"):
        for file, text in ecosystems.items():
            path = tmp_path / file.replace("/", "_")
            path.write_text(text)
            done = subprocess.run(["node", "-e", f"require({json.dumps(str(path))})"], capture_output=True, text=True)
            assert done.returncode == 0, f"{file}: {done.stderr}"
