"""Log rotation on the real host: Flask writes seed 004's LOG_FILE and PM2 keeps its logs; a forced
logrotate rotates both, the app goes on logging into the new file, and nobody else can read any."""

from __future__ import annotations

from local import LocalStack, local_stack

APP_LOG = "/var/log/flask-sample/app.log"
PM2_LOGS = "/var/lib/stackyard/flask-sample/pm2/logs"
CONFIG = "/etc/logrotate.d/stackyard-flask-sample"


def requests(stack: LocalStack, n: int) -> None:
    """Requests for / (the watchdog asks for /health all the while: its lines are not these)."""
    for _ in range(n):
        assert local_stack.fetch("flask.stackyard.test", "/")[0] == 200


def lines(stack: LocalStack, path: str) -> int:
    """Lines in the log from these requests."""
    return int(stack.ssh(f"grep -c 'GET / 200' {path} || true").stdout)


def test_a_forced_rotation_keeps_the_service_logging_to_the_new_file(stack: LocalStack) -> None:
    requests(stack, 5)
    assert lines(stack, APP_LOG) >= 5
    pm2_logs = stack.ssh(f"ls {PM2_LOGS}").stdout.split()
    assert pm2_logs, "PM2 wrote no log"

    stack.ssh(f"logrotate --force {CONFIG}")
    assert stack.ssh(f"test -s {APP_LOG}.1").returncode == 0  # rotated, not compressed yet (delaycompress)
    assert lines(stack, APP_LOG) == 0
    rotated = stack.ssh(f"ls {PM2_LOGS}").stdout.split()
    assert any(name.endswith(".log.1") for name in rotated), rotated

    requests(stack, 3)
    assert lines(stack, APP_LOG) >= 3  # the same process writes on, into the truncated file

    stack.ssh(f"logrotate --force {CONFIG}")
    assert stack.ssh(f"test -s {APP_LOG}.2.gz && test -s {APP_LOG}.1").returncode == 0  # compressed one run later

    # Logs, rotated ones and their directories: the service's user and group only.
    modes = stack.ssh(f"stat -c '%a %U %n' /var/log/flask-sample /var/log/flask-sample/* {PM2_LOGS}/*").stdout
    for line in modes.splitlines():
        mode, owner, _name = line.split(maxsplit=2)
        assert int(mode[-1]) == 0, line  # nothing for others
        assert owner == "svc-flask-sample", line
