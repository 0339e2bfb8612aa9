"""The health watchdog of one service: a systemd timer that checks every instance of the serving slot.

`Restart=always` (systemd) and PM2's autorestart bring back a process that exited; neither notices
one that hangs, answering nothing (seed 004's "auto-recovery": checks with retries, a restart,
verification after it, diagnostics when it did not help). Each run of the watchdog checks every
instance on every path. One that failed ``failures`` runs in a row is restarted alone (the others
keep serving) and checked again. If it is still failing, a diagnostic report goes to the journal.
After ``restarts`` restarts in a row that did not help, it stops restarting, says so once, and only
counts, until the instance answers again: a broken database is not fixed by restarting the app in
a loop.

The setup step writes the script staged (``watchdog.next``), and the deploy puts it in place once a slot
serves with the settings it was written for (``promote_watchdog``, deploy.sh): installed at once, a
changed health path or port was checked against the release still serving from before (restarted three
times, then left failed, when the new release never came), and a changed path alone was never checked
by a deploy. The staged script is part of the deploy's settings, so such a change is a deploy.
"""

from __future__ import annotations

from .deploy import service_header
from .layout import ServicePlan
from .quoting import sh_array, sh_assignments
from .runtimes import runtime_of
from .sandbox import CONFINEMENT
from .scripts import shell


def watchdog_sandbox(plan: ServicePlan) -> list[str]:
    """The watchdog runs as root, with only what it uses: CAP_KILL to thaw or evict another user's
    process, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to find a port's holders in /proc (and to enter the
    service's 0700 home), CAP_NET_ADMIN to destroy a listening socket another user left with no process
    (`ss -K`), and under PM2 CAP_SETUID/CAP_SETGID for `runuser`; loopback only; its own state directory
    the one place it writes. `systemd-analyze security` scores it about 2 to 3."""
    runtime = runtime_of(plan.runtime)
    capabilities = "CAP_KILL CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_NET_ADMIN" + runtime.watchdog_capabilities()
    lines = [
        *CONFINEMENT,
        f"CapabilityBoundingSet={capabilities}",
        f"ReadWritePaths={plan.paths.var}",
        "IPAddressDeny=any",
        "IPAddressAllow=localhost",
        "UMask=0077",
    ]
    return [*lines, *runtime.watchdog_syscalls()]


def watchdog_units(plan: ServicePlan) -> dict[str, str]:
    """file name under /etc/systemd/system -> content: the oneshot service and its timer."""
    name = plan.watchdog_unit
    service = "\n".join([
        "[Unit]",
        f"Description=health watchdog of {plan.name}, managed by stackyard",
        "",
        # Until a deploy has put the script of serving settings in place, there is nothing to watch.
        f"ConditionPathExists={plan.watchdog_path}",
        "",
        "[Service]",
        "Type=oneshot",
        f"ExecStart={plan.watchdog_path}",
        *watchdog_sandbox(plan),
        "",
    ])
    timer = "\n".join([
        "[Unit]",
        f"Description=health watchdog of {plan.name} every {plan.watchdog_interval} s, managed by stackyard",
        "",
        "[Timer]",
        f"OnActiveSec={plan.watchdog_interval}",
        f"OnUnitActiveSec={plan.watchdog_interval}",
        # The default accuracy is a minute: far coarser than the interval.
        "AccuracySec=1s",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ])
    return {f"{name}.service": service, f"{name}.timer": timer}


def watchdog_script(plan: ServicePlan) -> str:
    """The script the watchdog's service runs (as root): components/render/shell/watchdog.sh, with the
    runtime's restart, thaw and report pieces (runtime-<runtime>.sh)."""
    return (
        "#!/usr/bin/env bash\n"
        f"# Health watchdog of {plan.name}, run by {plan.watchdog_unit}.timer every {plan.watchdog_interval} s.\n"
        "set -uo pipefail\n"
        + service_header(plan, None)
        + f"PATHS={sh_array(plan.watchdog_paths)}\n"
        + sh_assignments({"FAILURES": plan.watchdog_failures, "RESTARTS": plan.watchdog_restarts,
                          "VERIFY_TRIES": plan.health_retries, "VERIFY_INTERVAL": plan.health_interval,
                          "TIMEOUT": plan.health_timeout})
        + shell("common.sh") + runtime_of(plan.runtime).script + shell("watchdog.sh")
    )
