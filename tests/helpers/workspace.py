"""The real `pulumi` CLI on a throwaway project: its own file backend, PULUMI_HOME and stack files.

A Workspace copies a Pulumi program (stackyard itself, or a small program under
tests/engine/programs) into a temporary directory, pointing its virtualenv at the repository's
venv, so stack files and state never land in the repository. Every command runs with the
toolchain's environment (no update check, no plugin downloads) and returns what it printed and
how long it took. Secret values are passed on stdin, never on a command line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
STANDIN_BIN = ROOT / "tests" / "standin" / "bin"
DEMO_PASSPHRASE = "stackyard-demo-passphrase"
"""Encrypts the production stack file's placeholder secrets (docs/operating.md, "Secrets")."""


UNCHANGED = ("same", "read", "create-replacement", "delete-replaced")
"""Ops that change nothing, or are halves of a ``replace`` (reported as such)."""


class ToolchainMissing(Exception):
    pass


def toolchain_bin() -> Path:
    """The offline toolchain's bin directory (scripts/pulumi-toolchain); the tests pin its CLI version."""
    done = subprocess.run([ROOT / "scripts" / "pulumi-toolchain", "bin"], capture_output=True, text=True,
                          env={**os.environ, "STACKYARD_TOOLCHAIN": "offline"})
    if done.returncode != 0:
        raise ToolchainMissing(done.stderr.strip())
    return Path(done.stdout.strip())


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        """The JSON document a command printed; for `up --json`, the plan it printed first."""
        document, _ = json.JSONDecoder().raw_decode(self.stdout.lstrip())
        return document

    def events(self) -> list[dict[str, Any]]:
        """The engine events `up`/`refresh`/`destroy --json` print after the plan, one per line."""
        text = self.stdout.lstrip()
        _, end = json.JSONDecoder().raw_decode(text)
        return [json.loads(line) for line in text[end:].splitlines() if line.strip()]

    def applied(self) -> dict[str, set[str]]:
        """op -> names of the resources the command changed (not ``same``), from its events."""
        out: dict[str, set[str]] = {}
        for event in self.events():
            outputs = event.get("resOutputsEvent")
            if outputs and outputs["metadata"]["op"] not in UNCHANGED:
                meta = outputs["metadata"]
                out.setdefault(meta["op"], set()).add(meta["urn"].rsplit("::", 1)[1])
        return out

    def printed(self) -> str:
        """What the engine printed while it ran (diagnostics: program logs, command output, errors), without
        the plan, whose old states hold what earlier runs printed."""
        return "".join(event["diagnosticEvent"]["message"] for event in self.events() if "diagnosticEvent" in event)

    def errors(self) -> str:
        """The engine's error diagnostics (a failed resource's message first), from --json events."""
        found = []
        try:
            events = list(self.events())
        except (ValueError, KeyError):
            return ""
        for event in events:
            diagnostic = event.get("diagnosticEvent") or {}
            if diagnostic.get("severity") == "error":
                found.append(f"{diagnostic.get('urn', '')}: {diagnostic.get('message', '').strip()}"[:4000])
        return "\n".join(found)

    def summary(self) -> dict[str, Any]:
        return next(event["summaryEvent"] for event in self.events() if "summaryEvent" in event)


class CommandFailed(AssertionError):
    pass


class Workspace:
    """One project directory and one backend; stacks are created in it by name."""

    def __init__(self, tmp: Path, bin_dir: Path, *, program: Path | None = None, standins: bool = False,
                 passphrase: str = DEMO_PASSPHRASE, env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.dir = tmp / "project"
        self.state = tmp / "state"
        self.home = tmp / "pulumi-home"
        self.cloud = tmp / "standin-cloud"
        """The stand-ins' cloud (STACKYARD_STANDIN_CLOUD): what they create, and what a test seeds."""
        for path in (self.dir, self.state, self.home, self.cloud):
            path.mkdir(parents=True, exist_ok=True)
        self.passphrase = passphrase
        self.standins = standins
        self.bin_dir = bin_dir
        self.extra_env = dict(env or {})
        self._copy_program(program)

    def _copy_program(self, program: Path | None) -> None:
        project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
        if program is None:  # stackyard itself
            for name in ("__main__.py", "components", "tests"):
                (self.dir / name).symlink_to(ROOT / name)
        else:
            project = yaml.safe_load((program / "Pulumi.yaml").read_text())
            for item in program.iterdir():
                if item.name != "Pulumi.yaml" and not item.name.startswith(("Pulumi.", "__pycache__")):
                    (self.dir / item.name).symlink_to(item)
        project["runtime"]["options"]["virtualenv"] = str(ROOT / "venv")
        (self.dir / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))

    def environment(self) -> dict[str, str]:
        path = [str(self.bin_dir)] + ([str(STANDIN_BIN)] if self.standins else []) + [os.environ.get("PATH", "")]
        env = {key: value for key, value in os.environ.items() if not key.startswith("PULUMI_")}
        env.update({
            "PATH": os.pathsep.join(path),
            "PULUMI_HOME": str(self.home),
            "PULUMI_BACKEND_URL": f"file://{self.state}",
            "PULUMI_CONFIG_PASSPHRASE": self.passphrase,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "STACKYARD_ROOT": str(ROOT),
            "STACKYARD_STANDIN_CLOUD": str(self.cloud),
            "NO_COLOR": "1",
            **self.extra_env,
        })
        return env

    def run(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 600) -> Result:
        argv = ["pulumi", *args, "--non-interactive", "--color", "never"]
        start = time.monotonic()
        done = subprocess.run(argv, cwd=self.dir, env=self.environment(), input=stdin, capture_output=True,
                              text=True, timeout=timeout)
        result = Result(argv, done.returncode, done.stdout, done.stderr, time.monotonic() - start)
        if check and done.returncode != 0:
            raise CommandFailed(f"{' '.join(argv)} exited {done.returncode}:\n{result.errors()}\n"
                                f"--- the end of its output:\n{result.output[-6000:]}")
        return result

    # --- stacks --------------------------------------------------------------------------------

    def stack_file(self, stack: str) -> Path:
        return self.dir / f"Pulumi.{stack}.yaml"

    def init(self, stack: str, *, config: dict[str, Any] | None = None, copy_from: Path | None = None,
             secrets: dict[str, str] | None = None) -> None:
        """Creates ``stack`` from a stack file to copy, or from a ``config:`` mapping, then sets ``secrets``
        (``ns:key`` or a stackyard key) with --secret."""
        if copy_from is not None:
            shutil.copy(copy_from, self.stack_file(stack))
        elif config is not None:
            self.stack_file(stack).write_text(yaml.safe_dump({"config": config}, sort_keys=False))
        self.run("stack", "init", stack, "--secrets-provider", "passphrase")
        for key, value in (secrets or {}).items():
            self.set_secret(stack, key, value)

    def set_secret(self, stack: str, key: str, value: str) -> None:
        full = key if ":" in key else f"stackyard:{key}"
        self.run("config", "set", "--secret", "--stack", stack, full, stdin=value)

    def set_config(self, stack: str, key: str, value: Any) -> None:
        """Sets a plain config value; a structured one is written into the stack file (this CLI's
        `config set` takes strings and --path, not JSON)."""
        full = key if ":" in key else f"stackyard:{key}"
        if isinstance(value, str):
            self.run("config", "set", "--stack", stack, full, value)
            return
        document = yaml.safe_load(self.stack_file(stack).read_text())
        document.setdefault("config", {})[full] = value
        self.stack_file(stack).write_text(yaml.safe_dump(document, sort_keys=False))

    # --- operations ----------------------------------------------------------------------------

    def preview(self, stack: str, *extra: str, check: bool = True) -> Result:
        return self.run("preview", "--stack", stack, "--json", *extra, check=check)

    def up(self, stack: str, *extra: str, check: bool = True) -> Result:
        return self.run("up", "--stack", stack, "--yes", "--json", *extra, check=check)

    def refresh(self, stack: str, *extra: str, check: bool = True) -> Result:
        return self.run("refresh", "--stack", stack, "--yes", "--json", *extra, check=check)

    def destroy(self, stack: str, check: bool = True) -> Result:
        return self.run("destroy", "--stack", stack, "--yes", "--json", check=check)

    def export(self, stack: str) -> dict[str, Any]:
        return self.run("stack", "export", "--stack", stack).json()

    def backend_text(self) -> str:
        """Every file of the backend directory, as one text: what a leak test searches."""
        parts = []
        for path in sorted(self.state.rglob("*")):
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)


def steps_by_op(events: dict[str, Any]) -> dict[str, set[str]]:
    """op -> resource names, from the JSON of `pulumi preview --json` / `up --json`."""
    out: dict[str, set[str]] = {}
    for step in events.get("steps", []):
        if step["op"] not in UNCHANGED:
            out.setdefault(step["op"], set()).add(step["urn"].rsplit("::", 1)[1])
    return out


def counts_by_type(events: dict[str, Any], op: str = "create") -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in events.get("steps", []):
        if step["op"] == op:
            kind = step["urn"].split("::")[2].split("$")[-1]
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def errors(events: dict[str, Any]) -> list[str]:
    return [d["message"] for d in events.get("diagnostics", []) if d.get("severity") == "error"]


def make_tmp(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def repository_copy(tmp: Path, pulumi_bin: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the repository as a fresh clone has it (no stack files but what a test writes, no state),
    its venvs the repository's own, and the environment to run `make` there as a user would: no PULUMI_
    variable of this run, a PULUMI_HOME of its own, the offline toolchain's `pulumi` first on PATH."""
    import os
    import shutil

    copy = tmp / "stackyard"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("venv", ".git", ".pulumi-state", ".standin-bin",
                                                            "__pycache__", "Pulumi.*.yaml"))
    (copy / "venv").symlink_to(ROOT / "venv")
    (copy / "policy" / "venv").symlink_to(ROOT / "policy" / "venv")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PULUMI_", "MAKE"))}
    env.update({"PULUMI_HOME": str(tmp / "home"), "STACKYARD_TOOLCHAIN": "offline",
                "PATH": f"{pulumi_bin}:{env['PATH']}"})
    return copy, env
