"""The backup script, run for real in a scratch directory: a dump that fails stops only itself, and
what a failed or killed run finished is never deleted by the next one."""

from __future__ import annotations

import gzip
import json
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from components.render.backups import Offsite, backup_script, restore_script

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


# Off-site, with the real restic and a repository in a directory (the e2e tier sends to S3).
needs_restic = pytest.mark.skipif(shutil.which("restic") is None, reason="needs restic (apt install restic)")


def offsite_host(tmp: Path, keep: int = 2) -> tuple[str, str, dict[str, str]]:
    """The backup and restore scripts of a host with MySQL whose dumps go to a restic repository in ``tmp``,
    and restic's environment for the test's own commands."""
    secrets = tmp / "secrets"
    secrets.mkdir()
    for name in ("restic.password", "s3-access-key", "s3-secret-key"):
        (secrets / name).write_text("not-a-real-secret")
    offsite = Offsite(repository=str(tmp / "repository"), keep=keep, secrets=str(secrets))
    directory = str(tmp / "backups")
    return (backup_script(keep=keep, directory=directory, paths_to_archive=[], accessories=["mysql"], offsite=offsite),
            restore_script(directory=directory, accessories=["mysql"], offsite=offsite),
            {"RESTIC_REPOSITORY": offsite.repository, "RESTIC_PASSWORD_FILE": str(secrets / "restic.password"),
             "PATH": "/usr/bin:/bin"})


def backup_of(tmp: Path, script: str, content: str, *, fails: bool = False) -> subprocess.CompletedProcess:
    """One run whose MySQL dump holds ``content`` (and then fails, with ``fails``: half a database)."""
    STUBS["mysqldump"] = f"printf '%s\\n' {shlex.quote(content)}\n" + ("exit 2\n" if fails else "")
    try:
        done = run(tmp, script)
    finally:
        STUBS["mysqldump"] = 'echo "-- dump of $*"\n'
    time.sleep(1.1)  # runs are named by the second
    return done


def snapshots(environment: dict[str, str]) -> list[dict]:
    listed = subprocess.run(["restic", "snapshots", "--json"], env=environment, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


@needs_restic
def test_an_offsite_restore_takes_the_newest_complete_run_of_this_host(tmp_path: Path) -> None:
    """Round 29: a run whose MySQL dump failed halfway went off-site like any other, and `stackyard-restore
    --offsite` took restic's latest, loaded half a database and said "MySQL restored"."""
    STUBS["mysql"] = 'cat > "$STUB/loaded.sql"\n'
    try:
        backup, restore, environment = offsite_host(tmp_path)
        assert backup_of(tmp_path, backup, "-- whole").returncode == 0
        assert backup_of(tmp_path, backup, "-- half", fails=True).returncode == 1
        # Another host's newer complete run in the same repository is not this host's to load.
        other = tmp_path / "20990101T000000Z"
        other.mkdir()
        (other / "mysql.sql.gz").write_bytes(gzip.compress(b"-- another host's\n"))
        subprocess.run(["restic", "backup", "--quiet", "--host", "another-host", "--tag", "stackyard,complete",
                        str(other)], env=environment, check=True, capture_output=True)
        done = run(tmp_path, restore, "--offsite")
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "loaded.sql").read_text() == "-- whole\n"
        # Named, an incomplete run is loaded, and says so.
        (incomplete,) = [s["short_id"] for s in snapshots(environment) if "complete" not in s.get("tags", [])]
        done = run(tmp_path, restore, "--offsite", incomplete)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "loaded.sql").read_text() == "-- half\n"
        assert "an incomplete run" in done.stderr and "mysql dump failed" in done.stderr
    finally:
        del STUBS["mysql"]


@needs_restic
def test_offsite_incomplete_runs_never_push_out_complete_ones(tmp_path: Path) -> None:
    backup, _, environment = offsite_host(tmp_path, keep=2)
    for content in ("-- 1", "-- 2", "-- 3"):
        assert backup_of(tmp_path, backup, content).returncode == 0
    for content in ("-- 4", "-- 5", "-- 6"):
        assert backup_of(tmp_path, backup, content, fails=True).returncode == 1
    kept = snapshots(environment)
    complete = sorted(s["time"] for s in kept if "complete" in s.get("tags", []))
    assert len(complete) == 2 and len(kept) == 4, kept  # the newest 2 complete, and the newest 2 incomplete


@needs_restic
def test_an_offsite_restore_with_no_complete_run_refuses_and_loads_nothing(tmp_path: Path) -> None:
    STUBS["mysql"] = 'cat > "$STUB/loaded.sql"\n'
    try:
        backup, restore, _ = offsite_host(tmp_path)
        assert backup_of(tmp_path, backup, "-- half", fails=True).returncode == 1
        done = run(tmp_path, restore, "--offsite")
        assert done.returncode == 1 and "no complete run of this host" in done.stderr
        assert not (tmp_path / "loaded.sql").exists()
    finally:
        del STUBS["mysql"]


def test_a_local_restore_with_no_complete_run_refuses_and_loads_nothing(tmp_path: Path) -> None:
    """Round 30 (low): every run incomplete, the restore found no name, loaded nothing, and exited 0 silently."""
    directory = tmp_path / "backups"
    STUBS["mysqldump"] = "echo '-- half'; exit 2\n"
    STUBS["mysql"] = 'cat > "$STUB/loaded.sql"\n'
    try:
        assert run(tmp_path, backup_script(keep=2, directory=str(directory), paths_to_archive=[],
                                           accessories=["mysql"])).returncode == 1
        done = run(tmp_path, restore_script(directory=str(directory), accessories=["mysql"]))
    finally:
        STUBS["mysqldump"] = 'echo "-- dump of $*"\n'
        del STUBS["mysql"]
    assert done.returncode == 1 and "no complete run" in done.stderr
    assert not (tmp_path / "loaded.sql").exists()


def test_the_dumps_of_stackyard_s_pm2_daemons_are_never_archived(tmp_path: Path) -> None:
    """A PM2 dump holds every process's env: stackyard's own daemons' homes are under the state directory,
    which the .pm2 exclusion did not match (round 30, low)."""
    state = tmp_path / "state"
    (state / "api/pm2/blue").mkdir(parents=True)
    for name in ("dump.pm2", "dump.pm2.bak"):
        (state / "api/pm2/blue" / name).write_text('{"env":{"DATABASE_PASSWORD":"s3cret"}}')
    (state / "api/kept.txt").write_text("kept")
    directory = tmp_path / "backups"
    assert run(tmp_path, backup_script(keep=2, directory=str(directory), paths_to_archive=[str(state)],
                                       accessories=[])).returncode == 0
    (only,) = runs(directory)
    (archive,) = (directory / only).glob("*.tar.gz")
    names = subprocess.run(["tar", "-tzf", str(archive)], capture_output=True, text=True, check=True).stdout
    assert "kept.txt" in names and "dump.pm2" not in names


def test_a_path_that_reads_as_an_option_is_archived_as_a_path(tmp_path: Path) -> None:
    """Round 32: an archived path whose first component starts with `-` (/-T/<file>) reached tar as an option,
    which read that file as its list of names and printed them, a secret file's lines included, into the
    run's output (the journal). Now it is a path: one that is not there fails its dump alone."""
    secret = tmp_path / "restic.password"
    secret.write_text("correct-horse-battery-staple\n")
    directory = tmp_path / "backups"
    script = backup_script(keep=2, directory=str(directory), paths_to_archive=[f"/-T{secret}"], accessories=[])
    result = run(tmp_path, script)
    assert "correct-horse" not in result.stdout + result.stderr
    assert result.returncode == 1 and "incomplete" in result.stderr


@pytest.mark.parametrize("password", ["plain", "ends in a newline\n", "two\n\nnewlines\n\n", " spaces \t"])
def test_redis_gets_its_password_byte_for_byte(password: str, tmp_path: Path) -> None:
    """The accessories step sets requirepass to the password file's every byte: the dump must send the same
    (a chosen password ending in a newline failed every nightly dump, $(cat) dropping it)."""
    etc = tmp_path / "etc"
    (etc / "accessories").mkdir(parents=True)
    (etc / "accessories" / "redis.password").write_text(password)
    seen = tmp_path / "auth"
    script = backup_script(keep=2, directory=str(tmp_path / "backups"), paths_to_archive=[], accessories=["redis"],
                           etc=str(etc))
    script = script.replace("saved=$(redis-cli LASTSAVE)", f'printf %s "$REDISCLI_AUTH" > {seen}\n'
                            "saved=$(redis-cli LASTSAVE)", 1)
    result = run(tmp_path, script)
    assert result.returncode == 0, result.stderr
    assert seen.read_text() == password
