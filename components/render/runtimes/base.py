"""What a process manager is to stackyard: the one interface every runtime module fills in.

A runtime runs a service's release in two slots, blue and green, so that a new release starts beside the
serving one. Its module says how: the files that define a slot's processes, the shell that starts,
stops, restarts and thaws them (shell/runtime-<name>.sh), what it installs on the host, how its env file
is written and who reads it, what holds its ports, and what the stack file may and may not say for it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Sequence

from ...model.host_layout import SLOT_OFFSET, Paths
from ...model.rules.findings import Findings
from ...model.topology import Service, System
from ..layout import ServicePlan
from ..scripts import shell

SHELL_BUILTINS = frozenset((
    ".", ":", "[", "alias", "bg", "break", "cd", "command", "continue", "eval", "exec", "exit", "export", "false",
    "fg", "getopts", "hash", "jobs", "kill", "local", "newgrp", "pwd", "read", "readonly", "return", "set", "shift",
    "source", "test", "times", "trap", "true", "type", "ulimit", "umask", "unalias", "unset", "wait",
    "!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then", "until", "while"))
"""Words sh runs itself (builtins and keywords): ``exec`` cannot run them."""


def launched(command: str) -> str:
    """What ``sh -c`` is given to run a service's ``command``: ``exec <command>`` for one simple command, so the
    process replaces the shell and gets the runtime's signals itself; the command as it is otherwise (``cd
    app && python worker.py``, ``FOO=1 node x.js``, a builtin first), which ``exec`` would break (dash:
    ``exec: cd: not found``, exit 127) or cut short (the part after ``&&`` never ran). The whole process
    group gets the signals either way (systemd's control group, PM2's tree kill)."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:  # an unclosed quote: sh says what is wrong with it
        return command
    simple = (bool(words) and "\n" not in command and words[0] not in SHELL_BUILTINS
              and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0], re.S)
              and not any(re.fullmatch(r"[;&|()]+", word) for word in words))
    return f"exec {command}" if simple else command


class Runtime:
    """A process manager. Subclasses set the attributes and fill in ``definitions``."""

    name: str = ""
    languages: frozenset[str] = frozenset()
    """Languages the host needs for it whatever the services say (systemd runs uv's .venv)."""
    uses_docker: bool = False
    """Whether its host needs Docker and the Compose plugin (components/render/docker.py)."""
    stackyard_env: dict[str, str] = {}
    """Variables stackyard sets for the service itself -> what it sets them to: the env may not set them.
    The env file's values win over systemd's Environment= lines, so a PORT there put every instance on one
    port (PM2 and compose put stackyard's PORT over the env file's: the value was silently ignored); a PATH,
    HOME or PM2_HOME there takes the service off its release's tools and its own directories."""
    env_readers: str = "root"
    """Who reads a slot's env file: ``root`` (0600, read before dropping to the service's user) or
    ``group`` (0640, the service's group: its processes load it themselves)."""
    env_group_is_service: bool = False
    """Whether the env file's group is the service's (a runtime that reads it as the service's group, or
    hands it to containers that get that group), else root's."""
    files_in_slot: bool = False
    """Whether the secret files are the slot's (mounted into a container, absolute paths) rather than the
    release's (relative paths, inside the release directory)."""
    release_owner: str = "service"
    """Whose a built release becomes: the service's (its processes run from it) or ``root``'s (compose: root
    builds an image from it). A release of root's has an id of its own, so that a service moved between the
    two never takes the release its serving slot runs from."""
    port_holders: str = ""
    """Processes other than the service's user's allowed to hold an instance port (Docker's proxy)."""
    env_line: Callable[[str, str], str]
    """One ``KEY=value`` line of the env file, in the form the runtime reads back unchanged."""

    @property
    def script(self) -> str:
        """Its shell pieces, components/render/shell/runtime-<name>.sh: start_slot, stop_slot, the watchdog's
        restart_instance, thaw and report_unit, forget_runtime for a removal."""
        return shell(f"runtime-{self.name}.sh")

    def definition_path(self, plan: ServicePlan, color: str) -> str:
        """Where one slot's process definition lives once the deploy installs it."""
        raise NotImplementedError

    def definitions(self, plan: ServicePlan, color: str, *, files: Iterable[str] = (),
                    hosts: Sequence[str] = ()) -> str:
        """One slot's process definition (``files``: the service's secret files; ``hosts``: its host's
        services by name, for containers)."""
        raise NotImplementedError

    def host_files(self, plan: ServicePlan, paths: Paths) -> dict[str, tuple[str, str]]:
        """path -> (content, mode) of what it needs beside the slots' definitions (PM2's daemon unit)."""
        return {}

    def install(self, docker: str) -> list[str]:
        """Its own install steps on the host after the languages' (``docker``: the host's Docker steps)."""
        return []

    def log_paths(self, plan: ServicePlan) -> list[str]:
        """Logs of its own that the service's rotation covers besides the service's."""
        return []

    def watchdog_capabilities(self) -> str:
        """Capabilities its watchdog needs beyond what every watchdog has."""
        return ""

    def watchdog_syscalls(self) -> list[str]:
        """The watchdog unit's system call lines."""
        return ["SystemCallFilter=@system-service", "SystemCallFilter=~@privileged @resources",
                "MemoryDenyWriteExecute=yes"]

    def env_file(self, values: dict[str, str]) -> str:
        """The service's env file in the form the runtime reads back unchanged."""
        return "".join(self.env_line(key, value) for key, value in sorted(values.items()))

    def check(self, rules: Findings, spath: str, service: Service, system: System) -> None:
        """What the stack file may not say of a service under this runtime (beyond the shared rules): here,
        that it gives the command that starts an instance."""
        if not service.command:
            rules.fail(f"{spath}.command", f"required: the command that starts the service under {self.name}")
        # Its instances listen as the service's user, which may not bind a port below 1024.
        lowest = min(SLOT_OFFSET.values())
        if service.port is not None and 0 < service.port < 1024 - lowest:
            rules.fail(f"{spath}.port", f"its instances listen on port+{lowest} and up, as the service's user, "
                                       f"who may not bind a port below 1024: pick a port of {1024 - lowest} or more")
