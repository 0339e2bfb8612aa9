"""Log rotation of one service: a logrotate file for the logs it writes and, under PM2, PM2's logs.

Rotation copies and truncates (copytruncate): the service keeps writing to the file it opened, so
nothing has to be told to reopen it. logrotate works as the service's user (`su`), since the
directories are the service's; rotated files keep the logs' mode, 0640 under the units' UMask.
"""

from __future__ import annotations

from .layout import ServicePlan
from .quoting import sh
from .runtimes import runtime_of


def log_paths(plan: ServicePlan) -> list[str]:
    """The log files (or globs) a service's rotation covers."""
    return [*plan.log_files, *runtime_of(plan.runtime).log_paths(plan)]


def logrotate_config(plan: ServicePlan) -> str | None:
    """The /etc/logrotate.d file of the service, or None when it has no log file to rotate."""
    paths = log_paths(plan)
    if not paths:
        return None
    unit = {"KB": "k", "MB": "M", "GB": "G"}[plan.log_size[-2:]]
    when = f"size {plan.log_size[:-2]}{unit}" if plan.log_rotate == "size" else plan.log_rotate
    return (
        f"# Managed by stackyard: logs of {plan.name}.\n"
        + " ".join(paths) + " {\n"
        f"    su {plan.user} {plan.user}\n"
        f"    {when}\n"
        f"    rotate {plan.log_keep}\n"
        "    compress\n"
        "    delaycompress\n"
        "    copytruncate\n"
        "    missingok\n"
        "    notifempty\n"
        "}\n"
    )


def logrotate_path(plan: ServicePlan) -> str:
    return f"/etc/logrotate.d/stackyard-{plan.name}"


def log_setup(plan: ServicePlan) -> str:
    """Shell lines of the setup step: the service's log directory, made by root in /var/log and then the
    service's (0750); any directory below it is made by the service's user, never by root in a directory
    that user owns."""
    top = f"/var/log/{plan.name}"
    lines = []
    if plan.log_files:
        # A directory that is there already and someone else's (nginx's, apt's, one a package made empty
        # for its own logs) is never handed over: its owner may still write there, as root's logrotate may.
        lines.append(f"if [ -L {sh(top)} ] || {{ [ -e {sh(top)} ] && "
                     f"[ \"$(stat -c %U {sh(top)})\" != {sh(plan.user)} ]; }}; then\n"
                     f"  echo \"stackyard: {top} exists and is not {plan.user}'s: its logs need a directory of their "
                     f"own\" >&2\n  exit 1\nfi\n")
        lines.append(f"install -d -m 0750 -o {sh(plan.user)} -g {sh(plan.user)} {sh(top)}\n")
    lines += [f"runuser -u {sh(plan.user)} -- mkdir -p -m 0750 {sh(directory)}\n"
              for directory in plan.log_directories if directory != top]
    return "".join(lines)
