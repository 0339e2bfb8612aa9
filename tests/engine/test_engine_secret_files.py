"""Generated and configured secrets written to a host by the real engine, over a real SSH connection.

This is the path of the first real preview's failure (`malformed RPC secret: missing value for
"triggers"`): a step whose triggers depend on a RandomPassword that does not exist yet. Here the
preview succeeds, `up` writes every file, a changed secret runs again exactly the command that
writes it and the step that reads it, and no secret value is anywhere in plain text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.sshd import sshd_fixture
from helpers.workspace import ROOT, errors, steps_by_op

PROGRAM = ROOT / "tests" / "engine" / "programs" / "secret_files"
CANARY = "CANARY-engine-3b9e1f"
sshd = sshd_fixture(scope="module")


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    target = tmp_path / "host"
    target.mkdir(mode=0o700)
    return target


def stack(ws, sshd, target: Path, api_key: str) -> None:
    ws.init("probe", config={"stackyard-secret-files:root": str(target),
                             "stackyard-secret-files:port": str(sshd.port),
                             "stackyard-secret-files:hostKey": sshd.host_key},
             secrets={"stackyard-secret-files:privateKey": sshd.private_key,
                      "stackyard-secret-files:apiKey": api_key,
                      "stackyard-secret-files:token": f"{CANARY}-token"})


def runs(target: Path, name: str) -> int:
    path = target / f"{name}.runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_generated_passwords_preview_apply_and_rerun_exactly_what_a_changed_secret_touches(
        workspace, sshd, host_dir: Path) -> None:
    ws = workspace(program=PROGRAM)
    stack(ws, sshd, host_dir, f"{CANARY}-api-one")
    outputs: list[str] = []

    # preview: the password is unknown, and so is every digest of it: the engine must accept that.
    first = ws.preview("probe")
    outputs.append(first.output)
    assert errors(first.json()) == []
    assert steps_by_op(first.json())["create"] == {"db-password", "probe-password", "probe-env", "probe-token",
                                                   "probe-app", "probe-db", "stackyard-secret-files-probe"}

    up = ws.up("probe")
    outputs.append(up.output)
    password = (host_dir / "db.password").read_text()
    assert len(password) == 24
    assert (host_dir / "app.env").read_text() == f"API_KEY={CANARY}-api-one\n"
    assert (host_dir / "token").read_text() == f"{CANARY}-token"
    for name in ("db.password", "app.env", "token"):
        assert (host_dir / name).stat().st_mode & 0o777 == 0o600, name
    assert (runs(host_dir, "app"), runs(host_dir, "db")) == (1, 1)

    # nothing changed: nothing runs
    again = ws.up("probe")
    outputs.append(again.output)
    assert again.applied() == {} and set(again.summary()["resourceChanges"]) == {"same"}
    assert (runs(host_dir, "app"), runs(host_dir, "db")) == (1, 1)

    # one secret changed: its writer and its reader run again, nothing else
    token_mtime = (host_dir / "token").stat().st_mtime_ns
    ws.set_secret("probe", "stackyard-secret-files:apiKey", f"{CANARY}-api-two")
    planned = ws.preview("probe")
    outputs.append(planned.output)
    assert steps_by_op(planned.json()) == {"update": {"probe-env"}, "replace": {"probe-app"}}
    changed = ws.up("probe")
    outputs.append(changed.output)
    assert changed.applied() == steps_by_op(planned.json())
    assert (host_dir / "app.env").read_text() == f"API_KEY={CANARY}-api-two\n"
    assert (runs(host_dir, "app"), runs(host_dir, "db")) == (2, 1)
    assert (host_dir / "token").stat().st_mtime_ns == token_mtime
    assert (host_dir / "db.password").read_text() == password

    # a new generated password reaches its file and the step that reads it
    ws.set_config("probe", "stackyard-secret-files:passwordLength", "28")
    rotated = ws.up("probe")
    outputs.append(rotated.output)
    assert rotated.applied()["replace"] == {"db-password", "probe-db"}
    assert rotated.applied()["update"] == {"probe-password"}
    assert len((host_dir / "db.password").read_text()) == 28
    assert (runs(host_dir, "app"), runs(host_dir, "db")) == (2, 2)

    # secrets: shown as [secret], and never in plain text in anything the engine printed or kept
    shown = ws.run("stack", "output", "--stack", "probe")
    assert "[secret]" in shown.stdout
    outputs.append(shown.output)
    leaks = [CANARY, password, (host_dir / "db.password").read_text()]
    state = ws.backend_text()
    assert CANARY not in state and json.dumps(CANARY) not in state
    for secret in leaks:
        assert secret not in state
        for text in outputs:
            assert secret not in text
    # ... and the files did carry them: the check above is not vacuous
    assert CANARY in (host_dir / "app.env").read_text()

    ws.destroy("probe")
