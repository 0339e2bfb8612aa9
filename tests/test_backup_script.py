"""The backup script, run for real in a scratch directory: a dump that fails stops only itself, and
what a failed or killed run finished is never deleted by the next one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from components.render.backups import backup_script, restore_script

STUBS = {
    # mysqldump and redis-cli of a host whose MySQL answers and whose Redis saves at once.
    "mysqldump": 'echo "-- dump of $*"\n',
    "redis-cli": 'case "$*" in LASTSAVE) date +%s%N ;; *dbfilename*) echo dump.rdb ;; *dir*) echo "$STUB" ;; '
                 "*) : ;; esac\n",
    # runuser as the user asked for is not what these tests are about: the command runs as it is.
    "runuser": 'while [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n',
}


def run(tmp: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in STUBS.items():
        (bin_dir / name).write_text("#!/usr/bin/env bash\n" + body)
        (bin_dir / name).chmod(0o755)
    (tmp / "dump.rdb").write_text("rdb")
    path = tmp / "script"
    path.write_text(script)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STUB": str(tmp)}
    return subprocess.run(["bash", str(path), *args], env=env, capture_output=True, text=True)


def runs(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.is_dir())


def test_a_failing_dump_stops_only_itself_and_the_run_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "file").write_text("kept")
    directory = tmp_path / "backups"
    script = backup_script(keep=2, directory=str(directory), paths_to_archive=[str(tmp_path / "missing"), str(data)],
                           accessories=["mysql", "redis"])
    result = run(tmp_path, script)
    assert result.returncode == 1 and "incomplete" in result.stderr
    (only,) = runs(directory)
    made = sorted(p.name for p in (directory / only).iterdir())
    assert "mysql.sql.gz" in made and "redis.rdb" in made and f"{str(data).strip('/').replace('/', '_')}.tar.gz" in made
    assert "dump failed" in (directory / only / "INCOMPLETE").read_text()
    assert (directory / only / "redis.rdb").read_text() == "rdb"


def test_the_redis_dump_is_never_read_through_a_link_the_redis_user_planted(tmp_path: Path) -> None:
    """The dump is in the redis user's directory, and root copied whatever was there: a link to a file of
    root's went into the backup, a pipe held the backup's lock for good (round 28)."""
    directory = tmp_path / "backups"
    secret = tmp_path / "root-only"
    secret.write_text("TOP SECRET")
    script = backup_script(keep=2, directory=str(directory), paths_to_archive=[], accessories=["redis"])
    (tmp_path / "bin").mkdir()
    (tmp_path / "script").write_text(script)
    for name, body in STUBS.items():
        (tmp_path / "bin" / name).write_text("#!/usr/bin/env bash\n" + body)
        (tmp_path / "bin" / name).chmod(0o755)
    (tmp_path / "dump.rdb").symlink_to(secret)
    result = subprocess.run(["bash", str(tmp_path / "script")], capture_output=True, text=True,
                            env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "STUB": str(tmp_path)})
    assert result.returncode == 1 and "is not a regular file" in result.stderr
    assert "TOP SECRET" not in "".join(p.read_text(errors="replace") for p in directory.rglob("*") if p.is_file())


def test_incomplete_runs_never_push_out_complete_ones_and_a_dead_runs_dumps_are_kept(tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    good = backup_script(keep=2, directory=str(directory), paths_to_archive=[], accessories=["mysql"])
    bad = backup_script(keep=2, directory=str(directory), paths_to_archive=[str(tmp_path / "missing")],
                        accessories=["mysql"])
    for script, rc in ((good, 0), (good, 0), (bad, 1), (bad, 1), (bad, 1)):
        assert run(tmp_path, script).returncode == rc
        os.sync()
        subprocess.run(["sleep", "1.1"])  # runs are named by the second
    complete = [r for r in runs(directory) if not (directory / r / "INCOMPLETE").exists()]
    assert len(complete) == 2  # three incomplete runs since: the two good ones are still the kept ones
    # A run killed halfway left a .partial: the next run keeps what it finished, marked incomplete.
    dead = directory / "29991231T000000Z.partial"  # the newest there is
    dead.mkdir()
    (dead / "mysql.sql.gz").write_text("finished before the kill")
    assert run(tmp_path, good).returncode == 0
    kept = directory / "29991231T000000Z"
    assert (kept / "mysql.sql.gz").read_text() == "finished before the kill"
    assert "stopped before it ended" in (kept / "INCOMPLETE").read_text()
    assert not dead.exists()
    # The restore takes the newest complete dump.
    restore = restore_script(directory=str(directory), accessories=["mysql"])
    (tmp_path / "bin" / "mysql").write_text("#!/bin/sh\ncat > /dev/null\n")
    (tmp_path / "bin" / "mysql").chmod(0o755)
    result = run(tmp_path, restore)
    newest_complete = sorted(r for r in runs(directory) if not (directory / r / "INCOMPLETE").exists())[-1]
    assert result.returncode == 0 and f"restored from {directory}/{newest_complete}" in result.stdout


NOBODY = 65534


def plant_link(tmp: Path) -> Path:
    target = tmp / "elsewhere"
    target.mkdir()
    (tmp / "backups").symlink_to(target)
    return target


def not_roots(tmp: Path) -> Path:
    (tmp / "backups").mkdir()
    os.chown(tmp / "backups", NOBODY, NOBODY)
    return tmp / "backups"


def writable_by_all(tmp: Path) -> Path:
    (tmp / "backups").mkdir()
    (tmp / "backups").chmod(0o777)
    return tmp / "backups"


def in_a_users_directory(tmp: Path) -> Path:
    (tmp / "user").mkdir()
    os.chown(tmp / "user", NOBODY, NOBODY)
    (tmp / "user" / "backups").mkdir(mode=0o700)
    return tmp / "user" / "backups"


def in_a_directory_all_write(tmp: Path) -> Path:
    (tmp / "shared").mkdir()
    (tmp / "shared").chmod(0o777)  # not sticky: anyone may rename what is in it
    (tmp / "shared" / "backups").mkdir(mode=0o700)
    return tmp / "shared" / "backups"


@pytest.mark.skipif(os.geteuid() != 0, reason="owners other than root can be set by root alone")
@pytest.mark.parametrize("prepare", [plant_link, not_roots, writable_by_all, in_a_users_directory,
                                     in_a_directory_all_write])
def test_a_backup_directory_someone_else_could_swap_gets_nothing_and_keeps_its_mode(tmp_path: Path, prepare) -> None:
    """Root writes, renames and deletes in the backup directory: if another user owns it, may write it, or
    may write a directory above it, the run writes nothing, changes nothing, and fails saying why."""
    watched = prepare(tmp_path)
    directory = watched.parent / "backups"
    before = {p: (p.stat().st_mode, p.stat().st_uid) for p in [watched, *watched.rglob("*")]}
    script = backup_script(keep=2, directory=str(directory), paths_to_archive=[], accessories=["mysql"])
    result = run(tmp_path, script)
    assert result.returncode == 1, result.stderr
    assert "no backup is written" in result.stderr
    assert {p: (p.stat().st_mode, p.stat().st_uid) for p in [watched, *watched.rglob("*")]} == before


def test_an_existing_backup_directory_of_roots_is_used_as_it_is(tmp_path: Path) -> None:
    """Made 0700 when missing; one that is there (root's, written by root alone) keeps its mode."""
    made, kept = tmp_path / "made" / "backups", tmp_path / "kept"
    kept.mkdir(mode=0o750)
    kept.chmod(0o750)
    for directory in (made, kept):
        script = backup_script(keep=2, directory=str(directory), paths_to_archive=[], accessories=["mysql"])
        result = run(tmp_path, script)
        assert result.returncode == 0, result.stderr
        assert len(runs(directory)) == 1
    assert made.stat().st_mode & 0o7777 == 0o700 and kept.stat().st_mode & 0o7777 == 0o750
