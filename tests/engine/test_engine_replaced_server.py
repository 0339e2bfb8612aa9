"""A server replaced under its steps: the new machine (a new ID) gets every step again, the old one goes
first (Hetzner names are unique), and a service's place command is kept, its removal never run."""

from __future__ import annotations

from pathlib import Path

from helpers.sshd import sshd_fixture
from helpers.workspace import ROOT, errors

PROGRAM = ROOT / "tests" / "engine" / "programs" / "replaced_server"
sshd = sshd_fixture(scope="module")


def runs(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_replaced_server_is_provisioned_again(workspace, sshd, tmp_path: Path) -> None:
    target = tmp_path / "host"
    target.mkdir()
    ws = workspace(program=PROGRAM, standins=True)
    ns = "stackyard-replaced-server"
    ws.init("box", config={f"{ns}:root": str(target), f"{ns}:port": str(sshd.port), f"{ns}:hostKey": sshd.host_key,
                           f"{ns}:image": "debian-12", "hcloud:token": "x" * 64},
            secrets={f"{ns}:privateKey": sshd.private_key, f"{ns}:token": "t0ken"})
    ws.up("box")
    first = ws.run("stack", "output", "server", "--stack", "box").stdout.strip()
    assert runs(target / "base.runs") == 1

    ws.set_config("box", f"{ns}:image", "ubuntu-24.04")  # a new image: Hetzner replaces the server
    plan = ws.preview("box").json()
    assert errors(plan) == []
    ops = {step["urn"].rsplit("::", 1)[1]: step["op"] for step in plan["steps"] if step["op"] != "same"}
    assert {name for name, op in ops.items() if op == "replace"} >= {"box", "box-setup-base", "box-setup-token"}
    assert "box-setup-place" not in {name for name, op in ops.items() if op == "replace"}

    replaced = ws.up("box")
    assert ws.run("stack", "output", "server", "--stack", "box").stdout.strip() != first
    assert replaced.applied()["replace"] >= {"box", "box-setup-base", "box-setup-token"}
    assert runs(target / "base.runs") == 2  # the new machine got its steps
    assert runs(target / "removals") == 0  # and nothing removed a service from it
    order = [e["resOutputsEvent"]["metadata"]["op"] for e in replaced.events() if "resOutputsEvent" in e
             and e["resOutputsEvent"]["metadata"]["urn"].endswith("::box")]
    assert order.index("delete-replaced") < order.index("create-replacement")  # the old one went first
