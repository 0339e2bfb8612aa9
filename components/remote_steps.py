"""RemoteSteps: the commands stackyard runs on one host over SSH, as pulumi-command resources.

A *step* is a script fed on stdin to ``bash -s`` as root, with ``triggers`` holding the sha256 of
the script, so it runs again exactly when that content changes and a second ``pulumi up`` with
nothing changed runs nothing. A *secret write* puts a value into a 0600 file through stdin: never
in a command line, never in ``environment`` (which sshd turns into a command line without
AcceptEnv), never in logged output (``logging: none`` and secret outputs).

Where a command must run again when a secret changes, the secret's digest joins its triggers and
the *whole* triggers list becomes one secret (``Output.all`` makes it so). A secret element inside
a plain list is what the real engine refuses at preview while the secret is still unknown
("malformed RPC secret: missing value for triggers"); a secret list is accepted, and is kept
encrypted in the state like any other secret.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pulumi
import pulumi_command as command

from .render import provision
from .render.quoting import sh

if TYPE_CHECKING:
    from .vps_host import Connection


def digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def digest_of(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """The digest of a value that may be an output, secret if the value is."""
    return pulumi.Output.from_input(value).apply(digest)


def triggers(*parts: pulumi.Input[str]) -> pulumi.Output[list[str]]:
    """A command's triggers as one list: if any part is secret the whole list is one secret, never a
    secret inside a plain list (which the engine refuses while the secret is unknown)."""
    return pulumi.Output.all(*parts)


class RemoteSteps:
    """Commands on one host, named ``<prefix>-<step>`` and parented to ``parent``."""

    def __init__(self, prefix: str, connection: Connection,
                 parent: pulumi.Resource | None = None, machine: pulumi.Input[str] | None = None,
                 former_prefixes: Sequence[str] = ()) -> None:
        self.prefix = prefix
        self.former_prefixes = tuple(former_prefixes)
        """The prefixes its resources had before a rename with `formerly` (their aliases): a claim made
        under one of those names is this resource's own, and moves to the new name."""
        self.connection: command.remote.ConnectionArgsDict = {**connection}
        self.parent = parent
        self.machine = machine
        """The server's cloud ID: it joins every step's triggers, so a replaced server is provisioned anew."""
        self.sudo = "" if connection["user"] == "root" else "sudo -n "
        """Steps run as root: through ``sudo -n`` when the connection's user is not root."""

    def run(self, step: str, create: str, *, triggers: pulumi.Input[list[str]],
            after: Sequence[pulumi.Resource] = (), stdin: pulumi.Input[str] | None = None,
            delete: str | None = None, update: str | None = None,
            per_machine: bool = True) -> command.remote.Command:
        """A command run (again) when its ``triggers`` change (and, ``per_machine``, on a replaced server),
        ``update`` (else ``create`` again) when another input changes, and ``delete`` when it leaves the
        stack; its output is shown, so it must hold no secret."""
        if self.machine is not None and per_machine:
            triggers = pulumi.Output.all(self.machine, triggers).apply(lambda both: [both[0], *both[1]])
        return command.remote.Command(
            f"{self.prefix}-{step}",
            connection=self.connection,
            create=create,
            update=update,
            delete=delete,
            stdin=stdin,
            triggers=triggers,
            logging=command.remote.Logging.STDOUT_AND_STDERR,
            opts=pulumi.ResourceOptions(parent=self.parent, depends_on=list(after)),
        )

    def claim(self, step: str, kind: str, name: str, *, release: str | None, after: Sequence[pulumi.Resource],
              delete: str | None = None) -> command.remote.Command:
        """A resource that holds ``kind/name`` on the host (stackyard-claim), under its own name: created, it
        adds its claim; renamed (an alias), it moves its claim from the names it had; deleted, it lets go,
        and ``release`` runs only if nothing else holds it. A system or host renamed without an alias
        creates its new resource before it deletes the old one, and that delete must not stop what the new
        one holds; nor may a claim ever be named as another resource's, or that delete would find its own
        name held and stop what the other holds. None: nothing to stop."""
        claim = f"{self.prefix}-{step}"
        helper = f"{self.sudo}/usr/local/sbin/stackyard-claim"
        # Names are checked by the model; quoted anyway, as every value that reaches a shell is.
        args = f"{sh(kind)} {sh(name)} {sh(claim)}"
        formers = "".join(f" {sh(f'{prefix}-{step}')}" for prefix in self.former_prefixes)
        return self.run(step, f"{helper} add {args}", update=f"{helper} move {args}{formers}",
                        delete=f"{helper} release {args}" + (f" {release}" if release else ""),
                        triggers=[name], after=after, per_machine=False)

    def step(self, step: str, script: str, *, after: Sequence[pulumi.Resource] = (),
             secrets: Sequence[pulumi.Input[str]] = ()) -> command.remote.Command:
        """Runs ``script`` as root, fed on stdin; runs again when the script changes, or any of ``secrets``
        (values the script reads from files that secret writes put there)."""
        return self.run(step, f"{self.sudo}bash -s", stdin=script, after=after,
                        triggers=triggers(digest(script), *map(digest_of, secrets)))

    def write_secret(self, step: str, path: str, content: pulumi.Input[str], *, owner: str = "root",
                     group: str | None = None, mode: str = "0600",
                     after: Sequence[pulumi.Resource] = ()) -> command.remote.Command:
        """Writes ``content`` to ``path`` (``owner``, ``mode``: 0600 unless a ``group`` must read it) over stdin.
        Nothing of it is logged or kept in plain text.

        No triggers: the content is the command's (secret) stdin, and a change of stdin is an update,
        which runs the command again; the state keeps it encrypted, so no digest is needed."""
        return command.remote.Command(
            f"{self.prefix}-{step}",
            connection=self.connection,
            create=f"{self.sudo}sh -c {sh(provision.write_file_command(path, owner=owner, group=group, mode=mode))}",
            stdin=pulumi.Output.secret(content),
            triggers=[self.machine] if self.machine is not None else None,
            logging=command.remote.Logging.NONE,
            opts=pulumi.ResourceOptions(parent=self.parent, depends_on=list(after),
                                        additional_secret_outputs=["stdout", "stderr"]),
        )
