"""SSH host keys: every host stackyard connects to is pinned, never trusted on first use.

- A server stackyard creates gets a host key stackyard generates: 32 random bytes (`RandomBytes`, a
  Pulumi secret kept encrypted in the state) are the seed of an ed25519 key, which cloud-init installs
  as the server's only host key (``ssh_keys:``), and whose public half every connection pins.
- A server that exists already (an existing host, or a created one taken in with ``adopt``) must have
  its ed25519 key in ``access.hostKey``: ``scripts/host-key ADDRESS`` prints it with its fingerprint, to
  be compared with the server's own (its console: ``ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub``).
- Before anything runs, the program asks each pinned address which key it presents (`ssh-keyscan`,
  which sends no credentials) and stops with the path and both fingerprints when they differ. Where the
  address cannot be asked from here, it says so and goes on: the connection itself refuses a key that
  differs (pulumi-command pins it with x/crypto's FixedHostKey, offering only its algorithm).

Only ed25519 keys are pinned: pulumi-command offers the pinned key's type alone, and for an RSA key
that is `ssh-rsa`, which OpenSSH no longer accepts for host keys.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import struct
import subprocess
from functools import cache

import pulumi

from .model import formats


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def public_key(seed: bytes) -> bytes:
    """The 32-byte ed25519 public key of a 32-byte seed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_line(seed: bytes, comment: str = "") -> str:
    """``ssh-ed25519 AAAA...``: the public half as OpenSSH writes it."""
    blob = _string(b"ssh-ed25519") + _string(public_key(seed))
    return " ".join(["ssh-ed25519", base64.b64encode(blob).decode(), *([comment] if comment else [])])


def private_key_pem(seed: bytes, comment: str = "") -> str:
    """The OpenSSH private key file of a 32-byte seed (openssh-key-v1, unencrypted). Deterministic: its
    check integer comes from the seed, so the same seed always gives the same text."""
    public = public_key(seed)
    blob = _string(b"ssh-ed25519") + _string(public)
    check = hashlib.sha256(b"stackyard host key check" + seed).digest()[:4]
    private = check + check + blob + _string(seed + public) + _string(comment.encode())
    private += bytes(range(1, 1 + (-len(private) % 8)))
    body = (b"openssh-key-v1\x00" + _string(b"none") + _string(b"none") + _string(b"") + struct.pack(">I", 1)
            + _string(blob) + _string(private))
    encoded = base64.b64encode(body).decode()
    lines = [encoded[i:i + 70] for i in range(0, len(encoded), 70)]
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----\n"


def fingerprint(key_line: str) -> str:
    """``SHA256:...``, as `ssh-keygen -l` prints it."""
    blob = base64.b64decode(key_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


class GeneratedHostKey:
    """The host key of a server stackyard creates: its private half (secret) for cloud-init, its public
    half for the connections."""

    def __init__(self, name: str, parent: pulumi.Resource) -> None:
        import pulumi_random as random

        seed = random.RandomBytes(f"{name}-host-key", length=32, opts=pulumi.ResourceOptions(parent=parent))
        raw = seed.base64.apply(base64.b64decode)
        self.private: pulumi.Output[str] = pulumi.Output.secret(raw.apply(private_key_pem))
        # The public half is no secret: a client pins it, and the server shows it to anyone who connects.
        self.public: pulumi.Output[str] = pulumi.Output.unsecret(raw.apply(public_key_line))


def checking() -> bool:
    return os.environ.get("STACKYARD_CHECK_HOST_KEYS", "on") != "off"


@cache
def presented_key(address: str, port: int) -> str | None:
    """The ed25519 host key ``address`` presents on ``port``, or None when it cannot be asked from here."""
    if shutil.which("ssh-keyscan") is None:
        return None
    try:
        done = subprocess.run(["ssh-keyscan", "-T", "5", "-t", "ed25519", "-p", str(port), "--", address],
                              capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "ssh-ed25519":
            return f"{parts[1]} {parts[2]}"
    return None


def check_pinned_key(path: str, address: str, port: int, pinned: str) -> None:
    """Stops the program when ``address`` presents another key than the one pinned at ``path``."""
    if not checking() or formats.address(address) is not None:
        return
    presented = presented_key(address, port)
    if presented is None:
        pulumi.log.warn(f"{path}: could not ask {address}:{port} for its host key from here; the connection "
                        "itself will refuse any key but the pinned one")
        return
    if presented.split()[:2] != pinned.split()[:2]:
        raise pulumi.RunError(
            f"{path}: {address}:{port} presents the host key {fingerprint(presented)}, and the stack pins "
            f"{fingerprint(pinned)}. Nothing was sent to it. If the server was rebuilt or its keys changed, "
            "check the new key on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and set it "
            "in access.hostKey; otherwise something else answers at that address.")
