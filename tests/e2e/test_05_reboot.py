"""A reboot of the host brings both services back by themselves: systemd starts the FastAPI slot's units,
and PM2's unit resurrects the Flask processes it saved (bug 5: they ran outside any unit before)."""

from __future__ import annotations

import time

from local import FIGURES, LocalStack, local_host


def test_after_a_reboot_both_services_answer_again(stack: LocalStack) -> None:
    before = stack.ssh("cat /proc/sys/kernel/random/boot_id").stdout.strip()
    started = time.monotonic()
    stack.ssh("systemctl reboot", check=False)
    time.sleep(2)
    local_host.wait_for_ssh()
    assert stack.ssh("cat /proc/sys/kernel/random/boot_id").stdout.strip() != before  # it did reboot
    ssh = time.monotonic() - started
    fastapi = stack.wait_healthy("fastapi.stackyard.test")
    flask = stack.wait_healthy("flask.stackyard.test")
    FIGURES.append(f"reboot: SSH after {ssh:.1f} s; fastapi answered {fastapi:.1f} s and flask {flask:.1f} s later")
    assert stack.ssh("systemctl is-active stackyard-flask-sample-pm2").stdout.strip() == "active"
    assert stack.ssh("systemctl --failed --no-legend").stdout.strip() == ""
