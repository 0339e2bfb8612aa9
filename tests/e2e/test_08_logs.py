"""Log rotation on the real host: Flask writes seed 004's LOG_FILE and PM2 keeps its logs; a forced
logrotate rotates both, the app goes on logging into the new file, and nobody else can read any."""

from __future__ import annotations

from load import Load
from local import FIGURES, LocalStack, local_stack

APP_LOG = "/var/log/flask-sample/app.log"
CONFIG = "/etc/logrotate.d/stackyard-flask-sample"


def requests(stack: LocalStack, n: int) -> None:
    """Requests for / (the watchdog asks for /health all the while: its lines are not these)."""
    for _ in range(n):
        assert local_stack.fetch("flask.stackyard.test", "/")[0] == 200


def lines(stack: LocalStack, path: str) -> int:
    """Lines in the log from these requests."""
    return int(stack.ssh(f"grep -c 'GET / 200' {path} || true").stdout)


def test_a_forced_rotation_keeps_the_service_logging_to_the_new_file(stack: LocalStack) -> None:
    # PM2's logs: the serving slot's daemon's.
    color = stack.ssh("cut -d' ' -f1 /srv/flask-sample/active").stdout.strip()
    pm2_logs = f"/var/lib/stackyard/flask-sample/pm2/{color}/logs"
    requests(stack, 5)
    assert lines(stack, APP_LOG) >= 5
    written = stack.ssh(f"ls {pm2_logs}").stdout.split()
    assert written, "PM2 wrote no log"

    stack.ssh(f"logrotate --force {CONFIG}")
    assert stack.ssh(f"test -s {APP_LOG}.1").returncode == 0  # rotated, not compressed yet (delaycompress)
    assert lines(stack, APP_LOG) == 0
    rotated = stack.ssh(f"ls {pm2_logs}").stdout.split()
    assert any(name.endswith(".log.1") for name in rotated), rotated

    requests(stack, 3)
    assert lines(stack, APP_LOG) >= 3  # the same process writes on, into the truncated file

    stack.ssh(f"logrotate --force {CONFIG}")
    assert stack.ssh(f"test -s {APP_LOG}.2.gz && test -s {APP_LOG}.1").returncode == 0  # compressed one run later

    # Logs, rotated ones and their directories: the service's user and group only.
    modes = stack.ssh(f"stat -c '%a %U %n' /var/log/flask-sample /var/log/flask-sample/* {pm2_logs}/*").stdout
    for line in modes.splitlines():
        mode, owner, _name = line.split(maxsplit=2)
        assert int(mode[-1]) == 0, line  # nothing for others
        assert owner == "svc-flask-sample", line


def test_a_new_log_directory_reaches_the_pm2_processes_with_no_failed_request(stack: LocalStack) -> None:
    """Round 29: a PM2 service's daemon unit changed (logs.files adds a directory to its ReadWritePaths), and
    nothing applied it: the deploy said "already serving", and the processes ran in the sandbox of the unit
    as it was. Now the slot the deploy starts runs under a daemon started from the new unit, and the serving
    one runs on until the switch."""
    extra = "/var/log/flask-sample/extra"
    before = stack.serving_pm2("flask-sample")
    stack.edit_system(lambda system: system["services"]["flask-sample"]["logs"]["files"].append(f"{extra}/x.log"))
    with Load("flask.stackyard.test", 20.0) as load:
        stack.up()
    FIGURES.append(f"flask-sample's PM2 unit changed (logs.files) by pulumi up under 20 req/s: {load.tally.summary()}")
    after = stack.serving_pm2("flask-sample")
    assert after != before
    shown = stack.ssh(f"systemctl show -p NeedDaemonReload -p ReadWritePaths {after}").stdout
    assert "NeedDaemonReload=no" in shown and extra in shown, shown
    assert stack.ssh(f"systemctl is-active {before}", check=False).stdout.strip() != "active"
    # The app's processes are the new daemon's, and the new path is on a writable mount in their namespace
    # (systemd mounts it inside the service's writable log directory, not as a mount of its own).
    pid = stack.ssh(f"systemctl show -p MainPID --value {after}").stdout.strip()
    worker = stack.ssh(f"pgrep -u svc-flask-sample -P {pid} | head -n 1").stdout.strip()
    assert worker, f"no process of the daemon {after}"
    options = stack.ssh(f"nsenter --target {worker} --mount -- findmnt -n -o OPTIONS -T {extra}").stdout
    assert options.split(",")[0] == "rw", options
    assert load.tally.failed == 0, load.tally.summary()
