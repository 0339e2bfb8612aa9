"""A running Hetzner server's public networks are never changed by `up` (round 31): the hcloud provider
applies a change of them (primaryIp or ipv6 turned on or off) by powering the server off hard and, for a
Primary IP, deleting the address it had. Through the real engine, with Hetzner's stand-in."""

from __future__ import annotations

import subprocess

from workspace import errors


def systems(primary: bool, ipv6: bool) -> dict:
    return {"box": {"hosts": {"api": {"provider": "hetzner", "serverType": "cx22", "location": "fsn1",
                                      "provision": False, "primaryIp": primary, "ipv6": ipv6}}}}


def test_turning_primary_ip_or_ipv6_on_or_off_never_touches_a_running_server(workspace, tmp_path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    ws = workspace(standins=True)
    ws.init("n", config={"stackyard:sshKeys": [(tmp_path / "k.pub").read_text().strip()],
                         "stackyard:systems": systems(False, True)},
            secrets={"hcloud:token": "x" * 64})
    assert errors(ws.up("n").json()) == []
    for primary, ipv6 in ((True, True), (True, False)):  # (a Primary IP made is protected: it stays)
        ws.set_config("n", "systems", systems(primary, ipv6))
        done = ws.up("n")
        server = [name for names in done.applied().values() for name in names if name == "box-api"]
        assert server == [], (primary, ipv6, done.applied())
