"""The health watchdog on the real host: a frozen instance is restarted alone, a broken one is reported.

The local stack checks FastAPI every 3 s on /health, /docs and /openapi.json, and Flask on /health,
restarting an instance after 2 failures in a row, at most 2 times in a row.
"""

from __future__ import annotations

import time

from local import FIGURES, LocalStack, freeze_fastapi_instance

FASTAPI_WATCHDOG = "stackyard-fastapi-sample-watchdog.service"
FLASK_WATCHDOG = "stackyard-flask-sample-watchdog.service"


def journal(stack: LocalStack, unit: str, since: str) -> str:
    return stack.ssh(f"journalctl --no-pager -o cat -u {unit} --since '{since}'").stdout


def host_now(stack: LocalStack) -> str:
    return stack.ssh("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()


def test_a_frozen_instance_is_restarted_alone_while_the_other_keeps_serving(stack: LocalStack) -> None:
    since = host_now(stack)
    recovery = freeze_fastapi_instance(stack)
    frozen, other = recovery.frozen, recovery.other
    assert recovery.seconds is not None, journal(stack, FASTAPI_WATCHDOG, since)
    deadline = time.monotonic() + 30  # the watchdog verifies the restart on its own schedule
    while f"{frozen} answers again" not in (log := journal(stack, FASTAPI_WATCHDOG, since)):
        assert time.monotonic() < deadline, log
        time.sleep(1)
    FIGURES.append(f"watchdog: a frozen FastAPI instance answered again {recovery.seconds:.1f} s after kill -STOP "
                   f"(checks every 3 s, restart after 2 failures); the other instance answered "
                   f"{recovery.other_answers}/{recovery.other_checks} checks meanwhile")
    assert recovery.other_answers == recovery.other_checks
    assert f"restarting instance {frozen} ({recovery.color} slot; restart 1 of at most 2 in a row)" in log
    assert f"instance {frozen} answers again after the restart" in log
    assert f"restarting instance {other}" not in log
    assert stack.health("fastapi.stackyard.test")[0] == 200


def test_a_restart_that_does_not_help_is_reported_and_the_restarts_stop_at_the_limit(stack: LocalStack) -> None:
    color = stack.ssh("cut -d' ' -f1 /srv/flask-sample/active").stdout.strip()
    port = 6000 if color == "blue" else 7000
    since = host_now(stack)
    stack.ssh("systemctl stop mariadb")  # Flask's /health fails until it is back: no restart can fix that
    try:
        started = time.monotonic()
        log = ""
        while time.monotonic() - started < 240 and "no more restarts until it answers again" not in log:
            time.sleep(3)
            log = journal(stack, FLASK_WATCHDOG, since)
        gave_up = time.monotonic() - started
        assert "no more restarts until it answers again" in log, log
        time.sleep(12)  # four more checks
        log = journal(stack, FLASK_WATCHDOG, since)
        FIGURES.append(f"watchdog: with MariaDB stopped, Flask restarted {log.count('restarting instance')} times, "
                       f"reported {log.count('diagnostic report')} times, gave up after {gave_up:.0f} s")
        assert log.count(f"restarting instance {port}") == 2
        assert log.count(f"=== stackyard watchdog: diagnostic report for flask-sample instance {port}") == 2
        for section in ("--- last answer: /health: HTTP 503", "--- unit", "--- recent logs", "--- listening ports",
                        "--- memory", "--- disk", "--- load"):
            assert section in log, section
        assert log.count("no more restarts until it answers again") == 1
    finally:
        stack.ssh("systemctl start mariadb")
    stack.wait_healthy("flask.stackyard.test")
    deadline = time.monotonic() + 30
    while f"instance {port} healthy again" not in journal(stack, FLASK_WATCHDOG, since) and time.monotonic() < deadline:
        time.sleep(2)
    assert f"instance {port} healthy again" in journal(stack, FLASK_WATCHDOG, since)
