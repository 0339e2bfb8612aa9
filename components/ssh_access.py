"""The key stackyard logs in with must open the door cloud-init installs: a created host's private key
(access.privateKey) has to be the other half of one of the public keys put on it (stackyard:sshKeys and
the host's sshKeys), or the first `pulumi up` creates a server nobody can provision.

The public half is derived with `ssh-keygen -y`, the private key fed on its stdin (never a file,
never an argument). A value that is no OpenSSH private key (the example stack's placeholders) cannot
be checked: that is a warning, not an error. So is a key under a passphrase: stackyard could not log in
with it either, and asking for one (a terminal's prompt, or an SSH_ASKPASS program started at preview)
is not this check's to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

import pulumi


def public_half(private_key: str) -> str | None:
    """``type base64`` of the key's public half, or None when it is not an OpenSSH private key."""
    if shutil.which("ssh-keygen") is None:
        return None
    quiet = {k: v for k, v in os.environ.items() if k not in ("SSH_ASKPASS", "DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run(["ssh-keygen", "-y", "-P", "", "-f", "/dev/stdin"],
                          input=private_key.rstrip("\n") + "\n", capture_output=True, text=True,
                          env={**quiet, "SSH_ASKPASS_REQUIRE": "never"}, start_new_session=True)
    if done.returncode != 0:
        return None
    return " ".join(done.stdout.split()[:2])


def checked_login_key(private_key: pulumi.Input[str], installed: Sequence[str], path: str) -> pulumi.Output[str]:
    """``private_key``, once its public half is known to be among ``installed``; the program stops with
    ``path`` and the reason otherwise."""
    keys = {" ".join(key.split()[:2]) for key in installed}

    def check(value: str) -> str:
        public = public_half(value)
        if public is None:
            pulumi.log.warn(f"{path}: not an OpenSSH private key here, so it cannot be checked against the keys "
                            "installed on the host")
        elif public not in keys:
            raise pulumi.RunError(
                f"{path}: the host would not let this key in: its public half ({public[:40]}...) is in neither "
                "stackyard:sshKeys nor the host's sshKeys, the keys cloud-init installs")
        return value

    return pulumi.Output.secret(pulumi.Output.from_input(private_key).apply(check))
