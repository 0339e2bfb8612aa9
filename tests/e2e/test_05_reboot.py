"""A reboot of the host brings both services back by themselves: systemd starts the FastAPI slot's units,
and PM2's unit resurrects the Flask processes it saved (bug 5: they ran outside any unit before). nginx
starts even with a certificate left set aside by a certificates step killed while certbot worked (round
25: its `nginx -t` failed, and every hostname was down until the next deploy or `up`)."""

from __future__ import annotations

from components.model.host_layout import Paths
from local import FIGURES, LocalStack, reboot

STATIC = "static.stackyard.test"


def test_after_a_reboot_both_services_answer_again(stack: LocalStack) -> None:
    paths = Paths()
    # Where a killed certificates step leaves the certificate: set aside, nothing where the site reads it.
    stack.ssh(f"install -d -m 0700 {paths.set_aside} && mv {paths.certs}/{STATIC} {paths.set_aside}/{STATIC}")
    ssh = reboot(stack)
    fastapi = stack.wait_healthy("fastapi.stackyard.test")
    flask = stack.wait_healthy("flask.stackyard.test")
    FIGURES.append(f"reboot: SSH after {ssh:.1f} s; fastapi answered {fastapi:.1f} s and flask {flask:.1f} s later")
    assert stack.ssh(f"systemctl is-active {stack.serving_pm2('flask-sample')}").stdout.strip() == "active"
    assert stack.ssh("systemctl --failed --no-legend").stdout.strip() == ""
    assert stack.ssh("systemctl is-active nginx").stdout.strip() == "active"
    stack.ssh(f"test -f {paths.certs}/{STATIC}/fullchain.pem && test ! -e {paths.set_aside}/{STATIC}")
