"""The process managers a service may run under, one module each: ``runtime: <name>`` in the stack file.

A new one is a module here with a subclass of Runtime (base.py), its shell pieces in
components/render/shell/runtime-<name>.sh, and a line in RUNTIMES.
"""

from __future__ import annotations

from ..layout import ServicePlan
from .base import Runtime
from .compose import Compose
from .pm2 import Pm2
from .systemd import Systemd

RUNTIMES: dict[str, Runtime] = {runtime.name: runtime for runtime in (Systemd(), Pm2(), Compose())}
"""Every runtime by name, in the order the host installs what they need."""


def runtime_of(name: str) -> Runtime:
    """The runtime called ``name`` (the model refuses any other before anything is rendered)."""
    try:
        return RUNTIMES[name]
    except KeyError:
        raise ValueError(f"unknown runtime {name!r}; known: {', '.join(sorted(RUNTIMES))}") from None


def definition_path(plan: ServicePlan, color: str) -> str:
    """Where one slot's process definition lives: a systemd unit, a PM2 ecosystem file, a compose file..."""
    return runtime_of(plan.runtime).definition_path(plan, color)


__all__ = ["RUNTIMES", "Runtime", "definition_path", "runtime_of"]
