"""systemd: a template unit per slot, one instance per port (a worker: one plain unit), run as the
service's user from the release's directory with uv's .venv on its PATH."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..layout import ServicePlan
from ..quoting import env_double_quoted, systemd_word
from ..sandbox import SERVICE_SANDBOX, writable_paths
from .base import Runtime, launched


def systemd_unit(plan: ServicePlan, color: str) -> str:
    """A template unit (``<unit>-<color>@<port>.service``), or a plain one for a worker without port.

    Root reads the EnvironmentFile before dropping to the service user, so it stays root-only 0600.
    """
    if not plan.command:
        raise ValueError(f"service {plan.name}: systemd needs a command")
    slot = f"{plan.paths.app(plan.name)}/slots/{color}"
    port_line = ["Environment=PORT=%i"] if plan.port is not None else []
    lines = [
        "[Unit]",
        f"Description={plan.name} ({color} slot{', port %i' if plan.port is not None else ''}), managed by stackyard",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={plan.user}",
        f"Group={plan.user}",
        f"WorkingDirectory={slot}",
        f"EnvironmentFile={plan.paths.slot(plan.name, color)}/env",
        *port_line,
        f"Environment=PATH={slot}/.venv/bin:/usr/local/bin:/usr/bin:/bin",
        f"ExecStart=/bin/sh -c {systemd_word(launched(plan.command))}",
        "Restart=always",
        "RestartSec=2",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=30",
        *SERVICE_SANDBOX,
        "SystemCallFilter=@system-service",
        writable_paths(plan),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def systemd_unit_name(plan: ServicePlan, color: str) -> str:
    return f"{plan.unit}-{color}{'@' if plan.port is not None else ''}.service"


class Systemd(Runtime):
    name = "systemd"
    languages = frozenset({"python"})
    stackyard_env = {"PORT": "each instance's own port", "PATH": "the release's .venv/bin first",
                     "HOME": "the service user's state directory"}
    env_line = staticmethod(env_double_quoted)

    def definition_path(self, plan: ServicePlan, color: str) -> str:
        return f"{plan.paths.systemd}/{systemd_unit_name(plan, color)}"

    def definitions(self, plan: ServicePlan, color: str, *, files: Iterable[str] = (),
                    hosts: Sequence[str] = ()) -> str:
        return systemd_unit(plan, color)
