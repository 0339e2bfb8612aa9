"""A running Hetzner server's public networks are never changed by `up` (round 31): the hcloud provider
applies a change of them (primaryIp or ipv6 turned on or off) by powering the server off hard and, for a
Primary IP, deleting the address it had. Nor its type, unless the host allows a resize (round 32): the
provider resizes a server powered off hard, and leaves it off when Hetzner refuses the type. Through the
real engine, with Hetzner's stand-in."""

from __future__ import annotations

import subprocess

from helpers.workspace import errors


def systems(primary: bool, ipv6: bool, server_type: str = "cx22", **more) -> dict:
    return {"box": {"hosts": {"api": {"provider": "hetzner", "serverType": server_type, "location": "fsn1",
                                      "provision": False, "primaryIp": primary, "ipv6": ipv6, **more}}}}


def running_server(workspace, tmp_path):
    """A stack whose Hetzner server runs (its stand-in): no Primary IP, IPv6 on, type cx22."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    ws = workspace(standins=True)
    ws.init("n", config={"stackyard:sshKeys": [(tmp_path / "k.pub").read_text().strip()],
                         "stackyard:systems": systems(False, True)},
            secrets={"hcloud:token": "x" * 64})
    assert errors(ws.up("n").json()) == []
    return ws


def test_turning_primary_ip_or_ipv6_on_or_off_never_touches_a_running_server(workspace, tmp_path) -> None:
    ws = running_server(workspace, tmp_path)
    for primary, ipv6 in ((True, True), (True, False)):  # (a Primary IP made is protected: it stays)
        ws.set_config("n", "systems", systems(primary, ipv6))
        done = ws.up("n")
        server = [name for names in done.applied().values() for name in names if name == "box-api"]
        assert server == [], (primary, ipv6, done.applied())


def test_a_changed_server_type_leaves_a_running_server_as_it_is_and_says_so_unless_a_resize_is_allowed(
        workspace, tmp_path) -> None:
    ws = running_server(workspace, tmp_path)

    ws.set_config("n", "systems", systems(False, True, "cx32"))
    preview = ws.preview("n")
    kept = ws.up("n")
    assert "box-api" not in {name for names in kept.applied().values() for name in names}, kept.applied()
    for said in (preview.output, kept.printed()):
        assert "systems.box.hosts.api.serverType: the server runs as cx22 and stays so (cx32 asked)" in said
        assert "allowResize: true" in said
    assert ws.export("n")  # the state is whole

    ws.set_config("n", "systems", systems(False, True, "cx32", allowResize=True))
    resized = ws.up("n")
    assert "box-api" in resized.applied().get("update", set()), resized.applied()
    assert "stays so" not in resized.printed()
