"""Root writes nothing into a directory a daemon's account owns. Debian's redis-tools makes /etc/redis
redis:redis 2770: stackyard's Redis settings were written there (a `.new` file, chown, a rename, an append
to redis.conf), so code running as redis could plant a link and have root write the Redis password over a
file root runs, and hand it to redis (round 27). They are a root-owned file now, included through the
unit's command line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from components.model.host_layout import Paths
from components.render.provision import accessories_script

DAEMON_DIRECTORIES = ("/etc/redis/", "/var/lib/redis", "/var/lib/mysql", "/var/lib/postgresql")


def test_the_accessories_step_writes_nothing_where_a_daemon_could_plant_a_link() -> None:
    script = accessories_script({"redis": {}, "mysql": {"database": "app", "user": "app"},
                                 "postgresql": {"database": "app", "user": "app"}})
    command = r"(?:>>?|\bchown\b[^\n]*?|\bchmod\b[^\n]*?|\bmv\b[^\n]*?|\btee\b[^\n]*?)"
    writes = re.findall(command + r"\s*(/[^\s;|&]+)", script)
    assert not [path for path in writes if path.startswith(DAEMON_DIRECTORIES)], writes


def test_redis_reads_stackyard_s_settings_from_root_s_file_through_its_unit() -> None:
    paths = Paths()
    script = accessories_script({"redis": {}}, paths)
    conf = f"{paths.etc}/redis/stackyard.conf"
    assert f"install -d -m 0750 -o root -g redis {paths.etc}/redis" in script
    assert f"ExecStart=/usr/bin/redis-server /etc/redis/redis.conf --include {conf} " in script
    assert "ExecStart=\n" in script  # the unit's own line replaced, not a second one added




def redis_host(tmp_path: Path) -> tuple[Paths, Path, dict[str, str]]:
    """A scratch host for the accessories step's Redis part: apt, chown and install's owners stubbed; systemd
    as far as it matters (what a daemon-reload loaded, what Redis was restarted with); every command counted,
    and the step killed (kill -9 of its shell) at the KILL_AT-th."""
    paths = Paths(etc=str(tmp_path / "etc"), systemd=str(tmp_path / "systemd"), var=str(tmp_path / "var"))
    (tmp_path / "etc/accessories").mkdir(parents=True)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    count = ('n=$(( $(cat "$TMP/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$TMP/count"\n'
             'if [ "$n" = "${KILL_AT:-0}" ]; then kill -9 $PPID; exit 1; fi\n')
    bodies = {
        "apt-get": "exit 0",
        "chown": count,
        "install": count + 'args=(); while [ $# -gt 0 ]; do case $1 in -o|-g) shift 2;; *) args+=("$1"); shift;; '
                           'esac; done\nexec /usr/bin/install "${args[@]}"',
        "systemctl": count + f'case "$1" in\n  daemon-reload) cp {paths.systemd}/redis-server.service.d/stackyard.conf '
                             '"$TMP/loaded" 2>/dev/null || true;;\n'
                             '  show) sed -n "s/^ExecStart=\\//ExecStart={ path=\\//p" "$TMP/loaded" 2>/dev/null;;\n'
                             f'  restart) cp {paths.etc}/redis/stackyard.conf "$TMP/running";;\nesac',
    }
    for name in ("mv", "cmp", "chmod", "touch", "rm"):
        bodies[name] = count + f'exec /usr/bin/{name} "$@"'
    for name, body in bodies.items():
        (stubs / name).write_text("#!/usr/bin/env bash\n" + body + "\n")
        (stubs / name).chmod(0o755)
    (tmp_path / "step").write_text(accessories_script({"redis": {}}, paths))
    return paths, tmp_path / "step", {"PATH": f"{stubs}:/usr/bin:/bin", "TMP": str(tmp_path)}


def run_step(tmp_path: Path, step: Path, env: dict[str, str], password: str, kill_at: int = 0) -> int:
    (tmp_path / "etc/accessories/redis.password").write_text(password)
    (tmp_path / "count").write_text("0")
    return subprocess.run(["bash", str(step)], env={**env, "KILL_AT": str(kill_at)}, capture_output=True).returncode


def test_a_new_redis_password_reaches_redis_whichever_command_the_step_was_killed_at(tmp_path: Path) -> None:
    """The step moved the new settings into place and then restarted Redis only when this run changed them:
    a run killed in between left the new password on disk, the next found nothing changed, and Redis kept
    the old one while every service got the new (round 28)."""
    _, step, env = redis_host(tmp_path)
    assert run_step(tmp_path, step, env, "old") == 0
    assert run_step(tmp_path, step, env, "new") == 0
    commands = int((tmp_path / "count").read_text())
    for kill_at in range(1, commands + 1):
        assert run_step(tmp_path, step, env, f"old-{kill_at}") == 0
        assert run_step(tmp_path, step, env, f"new-{kill_at}", kill_at) != 0
        assert run_step(tmp_path, step, env, f"new-{kill_at}") == 0
        assert f'requirepass "new-{kill_at}"' in (tmp_path / "running").read_text(), f"killed at command {kill_at}"


@pytest.mark.parametrize("kind", ["mysql", "postgresql"])
@pytest.mark.parametrize("password", ["", "s3cret\n", "'; DROP USER x; --"])
def test_an_empty_database_password_is_refused_and_any_other_read_byte_for_byte(kind: str, password: str,
                                                                              tmp_path: Path) -> None:
    """An empty chosen password made a MariaDB account that any local user logs in as (IDENTIFIED BY ''),
    and cleared a PostgreSQL role's: the step stops before either, saying which secret."""
    paths = Paths(etc=str(tmp_path / "etc"))
    (tmp_path / "etc/accessories").mkdir(parents=True)
    (tmp_path / f"etc/accessories/{kind}.password").write_text(password)
    step = accessories_script({kind: {"database": "shop", "user": "shop"}}, paths)
    function = re.search(r"^read_password\(\) \{\n.*?^\}\n", step, re.M | re.S)
    assert function, "the step reads no password"
    result = subprocess.run(["bash", "-c", function.group(0) + f'set -e\nread_password {kind}\nprintf %s "$pass"'],
                            capture_output=True, text=True)
    if password:
        assert result.returncode == 0 and result.stdout == password, result.stderr
    else:
        assert result.returncode != 0 and f"accessories.{kind}.password" in result.stderr
