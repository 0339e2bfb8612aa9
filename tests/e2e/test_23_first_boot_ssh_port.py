"""A created server with `access.sshPort` listens there after cloud-init: the cloud firewall opens only
that port, and stackyard's first step dials it. The user data wrote the port and ran `systemctl restart
ssh`, which on Ubuntu 24.04 (the default images) leaves ssh.socket on port 22, whose port a generator
takes from sshd_config at daemon-reload only (round 25): the server would have been out of reach. Here
the user data's files and commands run on the real host, as cloud-init would run them."""

from __future__ import annotations

import shlex
import subprocess

import yaml

from components.render.cloud_init import cloud_config
from local import local_host

PORT = 2222


def on_host(command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*local_host.ssh_args(), f"root@{local_host.GUEST_IP}", command],
                          capture_output=True, text=True, timeout=120)
    assert not check or done.returncode == 0, f"{command!r}: {done.stdout}{done.stderr}"
    return done


def test_the_user_data_moves_sshd_to_the_stack_s_port(host) -> None:
    config = yaml.safe_load(cloud_config("deploy", ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA deploy"], PORT))
    for entry in config["write_files"]:
        on_host(f"install -m {entry['permissions']} /dev/stdin {shlex.quote(entry['path'])} "
                f"<<'EOF'\n{entry['content']}EOF")
    # One session: it outlives sshd's move, and puts port 22 back (this machine dials it) the same way.
    written = " ".join(shlex.quote(entry["path"]) for entry in config["write_files"])
    done = on_host("; ".join(shlex.join(command) for command in config["runcmd"])
                   + f"; sleep 1; ss -Hltn; rm -f {written}; systemctl daemon-reload; "
                   "if systemctl is-active --quiet ssh.socket; then systemctl restart ssh.socket; "
                   "else systemctl restart ssh; fi")
    listening = [line.split()[3] for line in done.stdout.splitlines()]
    assert any(address.endswith(f":{PORT}") for address in listening), \
        f"nothing listens on {PORT} ({local_host.DISTRO}): {listening}"
    on_host("true")  # and port 22 answers again
