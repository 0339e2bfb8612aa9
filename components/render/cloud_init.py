"""cloud-init user data for servers stackyard creates."""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def cloud_config(deploy_user: str, ssh_keys: Sequence[str], ssh_port: int = 22,
                 host_key: tuple[str, str] | None = None) -> str:
    """A #cloud-config that creates a non-root deploy user holding the SSH keys, and installs the server's
    host key (``host_key``: its private and public halves, components/host_keys.py) as its only one.

    Root logins and passwords are switched off: every later step connects as the deploy user,
    which has passwordless sudo. The text is deterministic, so it never causes a spurious diff.
    """
    if not ssh_keys:
        raise ValueError("cloud_config needs at least one SSH public key")
    config: dict = {
        "users": [
            {
                "name": deploy_user,
                "groups": ["sudo"],
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": [key.strip() for key in ssh_keys],
            }
        ],
        "disable_root": True,
        "ssh_pwauth": False,
    }
    if host_key is not None:
        # The keys the image or the cloud made are deleted; this one, pinned by stackyard, is the only one.
        private, public = host_key
        config["ssh_deletekeys"] = True
        config["ssh_genkeytypes"] = ["ed25519"]
        config["ssh_keys"] = {"ed25519_private": private, "ed25519_public": public}
    if ssh_port != 22:
        # sshd must listen on the firewall's SSH port from the first boot, or the host is unreachable.
        config["write_files"] = [
            {
                "path": "/etc/ssh/sshd_config.d/10-stackyard-port.conf",
                "content": f"Port {ssh_port}\n",
                "permissions": "0644",
            }
        ]
        # Ubuntu 24.04 (the default images) listens through ssh.socket, whose port a generator reads from
        # sshd_config at daemon-reload: restarting ssh alone left it on 22, out of the firewall's reach.
        # Debian's sshd listens itself. (The base step does the same for a port changed later.)
        config["runcmd"] = [["sh", "-c", "systemctl daemon-reload; if systemctl is-active --quiet ssh.socket; "
                                         "then systemctl restart ssh.socket; else systemctl restart ssh; fi"]]
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
