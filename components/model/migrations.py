"""SQL migration files: ``<version>_<name>.sql`` in a directory, applied in version order."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FILE_NAME = re.compile(r"^(\d+)_[A-Za-z0-9_.-]+\.sql$")


@dataclass(frozen=True)
class Migration:
    name: str
    """The file name: it is the migration's identity in the database's record of applied ones."""
    sql: str
    checksum: str
    """sha256 of the file's bytes; an applied migration whose file changed is refused."""


def read_migrations(directory: str, root: Path = PROJECT_ROOT) -> tuple[list[Migration], list[str]]:
    """The directory's migrations in order, and the problems that stop them from being used."""
    path = root / directory
    try:
        exists = path.is_dir()
    except OSError as err:  # a name the filesystem refuses (too long, say) names no directory either
        exists = False
        reason = f" ({err.strerror})"
    else:
        reason = ""
    if not exists:
        return [], [f"no directory '{directory[:80]}' (relative to {root}){reason}"]
    migrations: list[Migration] = []
    problems: list[str] = []
    versions: dict[int, str] = {}
    for file in sorted(path.iterdir()):
        if file.suffix != ".sql":
            continue
        match = FILE_NAME.match(file.name)
        if match is None:
            problems.append(f"'{file.name}' is not named <version>_<name>.sql (e.g. 20250101120000_init.sql)")
            continue
        version = int(match.group(1))
        if version in versions:
            problems.append(f"'{file.name}' has the same version as '{versions[version]}'")
            continue
        versions[version] = file.name
        data = file.read_bytes()
        migrations.append(Migration(file.name, data.decode("utf-8"), hashlib.sha256(data).hexdigest()))
    if not migrations and not problems:
        problems.append(f"'{directory}' has no .sql files")
    migrations.sort(key=lambda m: int(FILE_NAME.match(m.name).group(1)))
    return migrations, problems
