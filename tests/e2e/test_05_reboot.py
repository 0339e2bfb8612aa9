"""A reboot of the host brings both services back by themselves: systemd starts the FastAPI slot's units,
and PM2's unit resurrects the Flask processes it saved (bug 5: they ran outside any unit before)."""

from __future__ import annotations

from local import FIGURES, LocalStack, reboot


def test_after_a_reboot_both_services_answer_again(stack: LocalStack) -> None:
    ssh = reboot(stack)
    fastapi = stack.wait_healthy("fastapi.stackyard.test")
    flask = stack.wait_healthy("flask.stackyard.test")
    FIGURES.append(f"reboot: SSH after {ssh:.1f} s; fastapi answered {fastapi:.1f} s and flask {flask:.1f} s later")
    assert stack.ssh("systemctl is-active stackyard-flask-sample-pm2").stdout.strip() == "active"
    assert stack.ssh("systemctl --failed --no-legend").stdout.strip() == ""
