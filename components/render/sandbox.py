"""The systemd sandbox: what every unit stackyard runs for a service gets, whoever it runs as.

A service's own processes (systemd instances, the PM2 daemon) add no capabilities and their own user
namespace to it (units.py); the watchdog, which runs as root, adds the few capabilities it uses and
loopback only (watchdog.py). Either way the system is read-only, /tmp and devices are private, and the
kernel's knobs are out of reach.
"""

from __future__ import annotations

from .layout import ServicePlan

CONFINEMENT = [
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "PrivateMounts=yes",
    # The whole file system read-only but for the unit's own directories (ReadWritePaths=).
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
    "LockPersonality=yes",
    "SystemCallArchitectures=native",
    "SystemCallErrorNumber=EPERM",
]
"""The lines every sandboxed unit has."""

SERVICE_SANDBOX = [
    *CONFINEMENT,
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "PrivateUsers=yes",
    "ProtectProc=invisible",
    "SystemCallFilter=~@privileged @resources",
    # Files the service creates (its logs among them) are never readable by other users.
    "UMask=0027",
]
"""The sandbox of every process of a service (systemd instances, the PM2 daemon): no capabilities, a
read-only system, its own /tmp and devices, no privileged system calls. `systemd-analyze security`
scores both units at about 1 (tests/render/test_render_tools.py runs it). MemoryDenyWriteExecute= is left
out: Node's V8 and Python's JIT libraries need writable code pages."""


def writable_paths(plan: ServicePlan) -> str:
    """ReadWritePaths= of the service: its data (shared/), its releases (apps that write beside their code),
    its state directory (HOME: caches, PM2, gunicorn's socket) and its log directories."""
    paths = [f"{plan.paths.app(plan.name)}/shared", f"{plan.paths.app(plan.name)}/releases",
             plan.paths.state(plan.name), *(f"-{d}" for d in plan.log_directories)]
    return "ReadWritePaths=" + " ".join(paths)
