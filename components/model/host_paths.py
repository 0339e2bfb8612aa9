"""Which directories of a host a path named in a stack file may be.

Root serves a static root (the proxy reads it, following links) and writes the backups (it makes the
directory, locks it, dumps into it and deletes old dumps from it). Either one, placed where a
service's user writes or holding such a place, lets that user plant a link that leads root or the
proxy anywhere: to a TLS key, to /etc/shadow. Placed at or above a system directory, a backup run
would chmod it and prune what it holds. The checks are both ways round: a path inside a directory,
and a path holding one, are refused alike (``/`` holds everything).
"""

from __future__ import annotations

from collections.abc import Iterable

SERVICE_WRITABLE = ("/var/lib/stackyard", "/var/log", "/tmp", "/var/tmp", "/home", "/run", "/dev/shm", "/var/run",
                    "/var/lock", "/var/crash", "/var/metrics", "/var/mail", "/var/lib/php")
"""Directories in which a service's user owns or may make something (its state, its logs, scratch; the
ones everyone writes, some of them by a link: /var/lock is /run/lock). The host check of the scripts
(components/render/trusted_paths.py) catches what a name cannot tell."""

SECRET = ("/etc", "/root", "/boot", "/proc", "/sys", "/dev", "/var/backups", "/var/lib/caddy", "/var/lib/mysql",
          "/var/lib/postgresql", "/var/lib/redis", "/var/lib/docker", "/var/lib/letsencrypt", "/var/spool")
"""Directories holding what no website may show: keys and certificates, password hashes, databases, dumps."""

SYSTEM = ("/", "/bin", "/sbin", "/lib", "/lib64", "/usr", "/opt", "/var", "/var/lib", "/var/cache", "/srv", "/mnt",
          "/media", "/var/backups", "/var/www")
"""Directories the system or other programs keep things in directly: never a backup directory itself."""

PACKAGED = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/var/lib", "/var/cache", "/var/spool")
"""Directories whose contents the system's packages own: never a place for a backup directory."""


def inside(path: str, directory: str) -> bool:
    """``path`` is ``directory`` or somewhere below it (by name: the model's paths hold no '.' or '..')."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def overlaps(path: str, directories: Iterable[str]) -> str | None:
    """The first of ``directories`` that ``path`` is inside of or holds, or None."""
    return next((d for d in directories if inside(path, d) or inside(d, path)), None)


def static_root_problem(root: str, service_dirs: Iterable[str], backups: str | None) -> str | None:
    """Why the proxy must not serve ``root``, or None. ``service_dirs``: each service's own directory."""
    writable = overlaps(root, (*SERVICE_WRITABLE, *service_dirs))
    if writable:
        return (f"'{root}' is, holds or is inside {writable}, which a service's user writes: a link planted "
                "there would have the proxy serve any file. Serve a directory of its own, such as /var/www/<site>")
    secret = overlaps(root, (*SECRET, *([backups] if backups else ())))
    if secret:
        return (f"'{root}' is, holds or is inside {secret}, whose files no website may show: serve a directory "
                "of its own, such as /var/www/<site>")
    return None


def backup_directory_problem(directory: str, service_dirs: Iterable[str]) -> str | None:
    """Why backups must not go in ``directory``, or None."""
    clash = (overlaps(directory, (*SERVICE_WRITABLE, *service_dirs))
             or next((d for d in (*SYSTEM, *SECRET) if inside(d, directory)), None)
             or next((d for d in (*SECRET, *PACKAGED) if d != "/var/backups" and inside(directory, d)), None))
    if clash:
        return (f"'{directory}' is, holds or is inside {clash}: backups go in a directory of their own that only "
                "root writes (the default /var/backups/stackyard, or one on a mounted volume such as "
                "/mnt/backups/stackyard)")
    return None


PSEUDO = ("/proc", "/sys", "/dev", "/run")
"""The kernel's and the runtime's own file systems: nothing there is data to keep, and reading some never ends."""


def archive_name(path: str) -> str:
    """The name of ``path``'s archive in a backup run: ``<name>.tar.gz``."""
    return path.strip("/").replace("/", "_") or "root"


def backup_path_problem(path: str, directory: str) -> str | None:
    """Why ``path`` must not be archived into backups kept in ``directory``, or None."""
    if path == "/" or overlaps(path, PSEUDO):
        return (f"'{path}' is, holds or is inside the system's own file systems ({', '.join(PSEUDO)}): name the "
                "directories that hold the data")
    if overlaps(path, (directory,)):
        return (f"'{path}' is, holds or is inside the backup directory {directory}: each run would archive the "
                "runs it keeps, and they grow without end")
    return None
