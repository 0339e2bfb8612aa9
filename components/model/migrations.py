"""SQL migration files: ``<version>_<name>.sql`` in a directory, applied in version order."""

from __future__ import annotations

import hashlib
import re
import stat
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
    # The files are read at preview, on whatever machine previews a pull request, and their text becomes a
    # plain resource input that `preview --diff` prints: a link to /proc/self/environ or ~/.ssh would publish
    # CI's own secrets. Only regular files of the project itself are read.
    if not path.resolve().is_relative_to(root.resolve()):
        return [], [f"'{directory[:80]}' leads out of the project ({root}) through a link"]
    migrations: list[Migration] = []
    problems: list[str] = []
    versions: dict[int, str] = {}
    for file in sorted(path.iterdir()):
        if file.suffix != ".sql":
            continue
        mode = file.lstat().st_mode
        if not stat.S_ISREG(mode):
            what = "a link" if stat.S_ISLNK(mode) else "not a regular file"
            problems.append(f"'{file.name}' is {what}: migrations are read from the project's own files")
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
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            problems.append(f"'{file.name}' is not UTF-8 text (byte {err.start}): save it as UTF-8")
            continue
        migrations.append(Migration(file.name, text, hashlib.sha256(data).hexdigest()))
    if not migrations and not problems:
        problems.append(f"'{directory}' has no .sql files")
    migrations.sort(key=version_of)
    return migrations, problems


def version_of(migration: Migration) -> int:
    """The version its file name begins with."""
    match = FILE_NAME.match(migration.name)
    assert match is not None  # read_migrations takes only files whose names match
    return int(match.group(1))
