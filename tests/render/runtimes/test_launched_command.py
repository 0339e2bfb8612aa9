"""A service's command as sh runs it (round 32): it was always `exec <command>`, which dash refuses for a
builtin or an assignment first (`exec: cd: not found`, exit 127) and cuts short after `&&`, so a worker
written `cd backend && python sync.py` crash-looped with the deploy saying "serving". Run by the real
/bin/sh (dash on Debian), from the unit and the PM2 file as rendered."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from components.render.layout import ServicePlan
from components.render.runtimes.pm2 import pm2_ecosystem
from components.render.runtimes.systemd import systemd_unit

COMMANDS = {
    "cd sub && ./run": "ran in sub",
    "FOO=bar ./sub/run": "ran in {here} with FOO=bar",
    "./first && ./sub/run": "first\nran in {here}",
    "true; ./sub/run": "ran in {here}",
    "./sub/run | tr a-z A-Z": "RAN IN {HERE}",
    "exec ./sub/run": "ran in {here}",
    "./sub/run": "ran in {here}",
    "./sub/run 2>&1": "ran in {here}",
}


def plan(command: str) -> ServicePlan:
    return ServicePlan(name="app", runtime="systemd", repo="https://example.com/app.git", ref="main", command=command)


def sh_argument(runtime: str, command: str) -> str:
    """What the rendered definition hands `sh -c`."""
    if runtime == "systemd":
        line = next(line for line in systemd_unit(plan(command), "blue").splitlines() if line.startswith("ExecStart="))
        # systemd's own quoting of the word: "..." with \\ and \" escapes, % doubled, $ doubled
        word = shlex.split(line.removeprefix("ExecStart=/bin/sh -c "))[0]
        return word.replace("%%", "%").replace("$$", "$")
    text = pm2_ecosystem(plan(command), "blue")
    apps = json.loads(re.search(r"^const apps = (\[.*?\]);$", text, re.S | re.M).group(1))
    assert apps[0]["script"] == "/bin/sh" and apps[0]["args"][0] == "-c"
    return apps[0]["args"][1]


@pytest.mark.parametrize("runtime", ["systemd", "pm2"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_command_runs_as_written_under_sh(runtime: str, command: str, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/run").write_text('#!/bin/sh\necho "ran in $(basename "$PWD")${FOO:+ with FOO=$FOO}"\n')
    (tmp_path / "first").write_text("#!/bin/sh\necho first\n")
    for script in ("sub/run", "first"):
        (tmp_path / script).chmod(0o755)
    argument = sh_argument(runtime, command)
    done = subprocess.run(["/bin/sh", "-c", argument], cwd=tmp_path, capture_output=True, text=True, timeout=10)
    expected = COMMANDS[command].format(here=tmp_path.name, HERE=tmp_path.name.upper())
    assert (done.returncode, done.stdout.strip()) == (0, expected), (argument, done.stderr)


def test_one_simple_command_replaces_the_shell_so_it_gets_the_runtime_s_signals_itself() -> None:
    from components.render.runtimes.base import launched

    assert launched("gunicorn app:app -b 127.0.0.1:$PORT") == "exec gunicorn app:app -b 127.0.0.1:$PORT"
    assert launched("python -c 'import x; x.run()'").startswith("exec ")
    assert launched("exec node server.js") == "exec node server.js"  # not `exec exec`
