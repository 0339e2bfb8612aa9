"""Backups of a host: the nightly dump script, its cron entry, and the restore command.

Each run writes one dump directory (databases, archived directories) under the backup directory,
keeps the newest ``keep``, and, with an off-site repository, sends it to S3-compatible object
storage with restic, which encrypts it on the host first and keeps the newest ``keep`` there too.
`stackyard-restore` puts a dump (local, or fetched from off-site) back into its databases.

No secret is in these scripts: restic's password and the S3 keys are files (0600) that separate
steps wrote over stdin; the scripts read them with `cat` into the environment of restic alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..model.host_paths import archive_name
from .quoting import heredoc, sh
from .scripts import HEADER
from .trusted_paths import ROOT_ONLY

BACKUP = "/usr/local/sbin/stackyard-backup"
RESTORE = "/usr/local/sbin/stackyard-restore"

# Caches that can be rebuilt, never worth a backup: uv's and npm's, PM2's home, and the dumps of stackyard's
# own PM2 daemons (/var/lib/stackyard/<name>/pm2/<colour>): a PM2 dump holds every process's env, secrets.
EXCLUDES = (".cache", ".npm", ".pm2", "node_modules/.cache", "dump.pm2", "dump.pm2.bak")


@dataclass(frozen=True)
class Offsite:
    """Where restic sends the dumps; the secrets are files on the host."""

    repository: str
    keep: int
    secrets: str = "/etc/stackyard/backup"

    @property
    def environment(self) -> str:
        """Shell lines that give restic its repository, password file and S3 keys (read from files)."""
        return (
            f"export RESTIC_REPOSITORY={sh(self.repository)}\n"
            f"export RESTIC_PASSWORD_FILE={self.secrets}/restic.password\n"
            f"AWS_ACCESS_KEY_ID=$(cat {self.secrets}/s3-access-key)\n"
            f"AWS_SECRET_ACCESS_KEY=$(cat {self.secrets}/s3-secret-key)\n"
            "export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY\n"
        )


def backup_script(*, keep: int, directory: str, paths_to_archive: Sequence[str], accessories: Iterable[str],
                  etc: str = "/etc/stackyard", offsite: Offsite | None = None) -> str:
    """One dump directory per run, the newest ``keep`` kept here (and off-site). Runs from cron as root."""
    dumps: list[tuple[str, str]] = []
    kinds = set(accessories)
    if "mysql" in kinds:
        dumps.append(("mysql",
                      'mysqldump --all-databases --single-transaction --quick | gzip > "$target/mysql.sql.gz"'))
    if "postgresql" in kinds:
        dumps.append(("postgresql", 'runuser -u postgres -- pg_dumpall | gzip > "$target/postgresql.sql.gz"'))
    if "redis" in kinds:
        # An existing Redis taken over without a password has no password file.
        password = sh(f"{etc}/accessories/redis.password")
        # A background save, then a copy of the file it wrote: `redis-cli --rdb` (a replica's full sync)
        # hung on the test host's Redis 7.0 on a second run a minute after the first.
        # The password is read whole, as the accessories step reads it: a chosen one may end in a newline,
        # which $(cat) would drop.
        dumps.append(("redis",
                      f'if [ -s {password} ]; then IFS= read -r -d "" REDISCLI_AUTH < {password} || true; '
                      'export REDISCLI_AUTH; fi\n'
                      'saved=$(redis-cli LASTSAVE)\n'
                      'redis-cli BGSAVE >/dev/null || true  # one may be running already: its end is awaited too\n'
                      'for _ in $(seq 600); do [ "$(redis-cli LASTSAVE)" != "$saved" ] && break; sleep 1; done\n'
                      'if [ "$(redis-cli LASTSAVE)" = "$saved" ]; then echo "Redis did not save within 600 s" >&2; '
                      'exit 1; fi\n'
                      # The file is in the redis user's directory: read as that user, a regular file only,
                      # with a time limit (a link would have root copy any file, a pipe would hold the lock).
                      'rdb="$(redis-cli --raw CONFIG GET dir | tail -n 1)/$(redis-cli --raw CONFIG GET dbfilename '
                      '| tail -n 1)"\n'
                      'if [ -L "$rdb" ] || [ ! -f "$rdb" ]; then echo "$rdb is not a regular file" >&2; exit 1; fi\n'
                      'timeout 300 runuser -u redis -- cat -- "$rdb" > "$target/redis.rdb"'))
    excludes = " ".join(f"--exclude={sh(pattern)}" for pattern in EXCLUDES)
    for path in paths_to_archive:
        name = archive_name(path)
        dumps.append((name, f'tar --create --gzip --file "$target/{name}.tar.gz" {excludes} --directory / -- '
                            f'{sh(path.lstrip("/"))}'))
    body = "".join(f"dump {sh(name)} <<'{tag}'\n{command}\n{tag}\n"
                   for name, command in dumps for tag in [heredoc(command)[1]]) or ":\n"
    send = ""
    if offsite is not None:
        send = f"""
# Off-site: restic encrypts on this host, then sends. A run whose every dump ended is tagged complete, which
# is what a restore takes unless told otherwise; the newest {offsite.keep} complete runs are kept there, and
# apart from them the newest {offsite.keep} incomplete ones (grouped by tags: those never push out the others).
{offsite.environment}if ! restic cat config >/dev/null 2>&1; then restic init --quiet; fi
tags=stackyard
if [ ${{#failed[@]}} -eq 0 ]; then tags=stackyard,complete; fi
restic backup --quiet --tag "$tags" "$final"
restic forget --quiet --tag stackyard --group-by host,tags --keep-last {offsite.keep} --prune
"""
    return HEADER + f"""# Managed by stackyard: dumps, the newest {keep} kept{' here and off-site' if offsite else ''}.
# Each dump runs on its own: one that fails is named in the run's INCOMPLETE file, the others are kept,
# and the run ends failing (cron's journal says so). Only complete runs count towards the {keep} kept.
umask 077
directory={sh(directory)}
{ROOT_ONLY}# Root writes, renames and deletes in it: the directory and those above it must be root's alone (or
# its owner could swap it, or a dump in it, for a link to anywhere), checked before anything is made
# there and again after. Made when missing, never changed when there.
if ! root_only "$directory"; then echo "no backup is written in $directory" >&2; exit 1; fi
if [ ! -e "$directory" ]; then mkdir -p -- "$(dirname -- "$directory")" && mkdir -m 0700 -- "$directory"; fi
if ! root_only "$directory"; then echo "no backup is written in $directory" >&2; exit 1; fi
exec 9>"$directory/.lock"
# One run at a time. A run asked for while another is on waits for it, so that it backs up what is
# there now (a run that skipped would leave an older dump as the newest).
if ! flock --wait 1800 9; then echo "another backup has held the lock for 30 minutes; none made" >&2; exit 1; fi
# What a run that died left is kept, marked incomplete: the dumps it finished may be the newest there are.
find "$directory" -mindepth 1 -maxdepth 1 -type d -name '*.partial' -print0 | while IFS= read -r -d '' left; do
  echo "the run that made it stopped before it ended" > "$left/INCOMPLETE"
  mv "$left" "${{left%.partial}}"
done
final="$directory/$(date -u +%Y%m%dT%H%M%SZ)"
target="$final.partial"
export target
mkdir "$target"
failed=()
# dump NAME: runs the commands on stdin in a shell of their own, so that one that fails stops only its dump.
dump() {{
  local name=$1
  if ! bash -euo pipefail -s; then
    echo "the $name dump failed" >&2
    failed+=("$name")
  fi
}}
{body}if [ ${{#failed[@]}} -gt 0 ]; then printf '%s dump failed\\n' "${{failed[@]}}" > "$target/INCOMPLETE"; fi
mv "$target" "$final"
# The newest {keep} complete runs stay; an incomplete one stays while it is newer than the oldest of them.
complete=$(find "$directory" -mindepth 1 -maxdepth 1 -type d -name '*Z' ! -exec test -e '{{}}/INCOMPLETE' \\; \\
  -printf '%f\\n' | sort -r)
oldest_kept=$(printf '%s\\n' "$complete" | head -n {keep} | tail -n 1)
printf '%s\\n' "$complete" | tail -n +{keep + 1} | while read -r old; do
  if [ -n "$old" ]; then rm -rf "${{directory:?}}/$old"; fi
done
find "$directory" -mindepth 1 -maxdepth 1 -type d -name '*Z' -exec test -e '{{}}/INCOMPLETE' \\; -printf '%f\\n' \\
  | while read -r old; do
    if [ -n "$oldest_kept" ] && [[ $old < $oldest_kept ]]; then rm -rf "${{directory:?}}/$old"; fi
  done
{send}if [ ${{#failed[@]}} -gt 0 ]; then echo "backup $final incomplete: ${{failed[*]}} failed" >&2; exit 1; fi
echo "backup $final done"
"""


def restore_script(*, directory: str, accessories: Iterable[str], offsite: Offsite | None = None) -> str:
    """`stackyard-restore [--offsite] [BACKUP]`: the newest dump (or the one named: a directory name
    here, a restic snapshot ID off-site) back into the host's databases."""
    kinds = set(accessories)
    loads = []
    if "mysql" in kinds:
        loads.append('if [ -f "$source/mysql.sql.gz" ]; then gunzip -c "$source/mysql.sql.gz" | mysql; '
                     'echo "MySQL restored from $source"; fi')
    if "postgresql" in kinds:
        loads.append('if [ -f "$source/postgresql.sql.gz" ]; then gunzip -c "$source/postgresql.sql.gz" '
                     '| runuser -u postgres -- psql --quiet -v ON_ERROR_STOP=0 >/dev/null; '
                     'echo "PostgreSQL restored from $source"; fi')
    if "redis" in kinds:
        loads.append('if [ -f "$source/redis.rdb" ]; then echo "Redis is not loaded by this script: its dump is '
                     'redis.rdb in the run (docs/operating.md, Backups)"; fi')
    fetch = 'echo "no off-site repository is configured" >&2; exit 2'
    if offsite is not None:
        fetch = offsite.environment + f"""fetched=$(mktemp -d)
trap 'rm -rf "$fetched"' EXIT
if [ -n "${{1:-}}" ]; then
  restic restore --quiet "$1" --tag stackyard --target "$fetched"
# The newest complete run of this host: restic's latest of all could be a run whose dumps failed halfway,
# or another host's sharing the repository.
elif ! restic restore --quiet latest --tag stackyard,complete --host "$(hostname)" --target "$fetched"; then
  echo {sh("no complete run of this host off-site; name a snapshot (restic snapshots lists them)")} >&2
  exit 1
fi
# The run's directory as the backup named it, wherever restic put it under the target.
source=$(find "$fetched" -mindepth 1 -type d -regextype posix-extended -regex '.*/[0-9]{{8}}T[0-9]{{6}}Z' \\
  -print -quit)"""
    body = "\n".join(loads) or 'echo "this host has no database to restore" >&2; exit 2'
    return HEADER + f"""# Managed by stackyard. Usage: stackyard-restore [--offsite] [BACKUP]
#   BACKUP: a dump directory in {directory} (default: the newest), or with --offsite a restic
#   snapshot ID (default: the newest complete run of this host), fetched from the off-site repository first.
#   Loads its database dumps into the databases here: tables in a dump are replaced by the dump's.
umask 077
directory={sh(directory)}
if [ "${{1:-}}" = --offsite ]; then
  shift
{_indent(fetch)}
else
  # The newest complete dump, unless one is named.
  name=${{1:-$(find "$directory" -mindepth 1 -maxdepth 1 -type d -name '*Z' ! -exec test -e '{{}}/INCOMPLETE' \\; \\
    -printf '%f\\n' | sort | tail -n 1)}}
  if [ -z "$name" ]; then echo "no complete run in $directory: name one to load it" >&2; exit 1; fi
  source="$directory/$name"
fi
if [ -z "${{source:-}}" ] || [ ! -d "$source" ]; then echo "no backup found to restore" >&2; exit 1; fi
# A run some dump of which failed (or that died) is loaded only when named: it may hold half a database.
if [ -e "$source/INCOMPLETE" ]; then
  if [ -z "${{1:-}}" ]; then
    echo "the run found is incomplete ($(head -c 200 "$source/INCOMPLETE")): name one" >&2
    exit 1
  fi
  echo "restoring $1, an incomplete run: $(head -c 200 "$source/INCOMPLETE")" >&2
fi
{body}
"""


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else line for line in text.splitlines())


CRON_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def backup_cron(schedule: str) -> str:
    """The cron entry. What a run prints goes to the journal (`journalctl -t stackyard-backup`): cron
    would mail it, and a host rarely has a mailer. cron's own PATH has no sbin: runuser (the PostgreSQL
    and Redis dumps) was not found, and those dumps failed every night (seen on the e2e host)."""
    return (f"# Managed by stackyard.\nSHELL=/bin/bash\nPATH={CRON_PATH}\n"
            f"{schedule} root {BACKUP} 2>&1 | systemd-cat --identifier=stackyard-backup\n")
