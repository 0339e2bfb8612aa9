"""Every step run again for real (`pulumi up --replace`) leaves a working host exactly as it was:
directory modes stay, MariaDB and Redis are not restarted, an unchanged deploy stays in its slot."""

from __future__ import annotations

from local import FIGURES, LocalStack, local_host

STEPS = ["base", "runtimes", "accessories", "proxy", "backups", "user-fastapi-sample", "user-flask-sample",
         "fastapi-sample-setup", "flask-sample-setup", "fastapi-sample-deploy", "flask-sample-deploy"]


def snapshot(stack: LocalStack) -> dict[str, str]:
    # Not the watchdog's state directory: its first run makes it, on its timer, whenever that comes (a
    # first `up` that ended less than an interval before the snapshot had none yet).
    modes = stack.ssh("stat -c '%n %U:%G %a' /etc/stackyard /etc/stackyard/* /etc/stackyard/*/files "
                      "/srv/*/shared $(ls -d /var/lib/stackyard/* | grep -vx /var/lib/stackyard/watchdog)").stdout
    pids = stack.ssh("systemctl show -p MainPID --value mariadb redis-server nginx "
                     + stack.serving_pm2("flask-sample")).stdout
    active = stack.ssh("cat /srv/fastapi-sample/active /srv/flask-sample/active").stdout
    return {"modes": modes, "pids": pids, "active": active}


def test_running_every_step_again_changes_nothing_on_the_host(stack: LocalStack) -> None:
    before = snapshot(stack)
    replace = [arg for step in STEPS for arg in ("--replace", stack.urn(f"local-box-setup-{step}"))]
    rerun = stack.up(*replace)
    assert rerun.applied().get("replace") == {f"local-box-setup-{step}" for step in STEPS}
    assert rerun.printed().count("already serving") == 2  # both deploys found their release running, with its settings
    after = snapshot(stack)
    assert after["modes"] == before["modes"]  # bug 6: /etc/stackyard/<svc> flipped between 0700 and 0755
    assert after["pids"] == before["pids"]  # bug 6: the accessories step restarted MariaDB and Redis
    assert after["active"] == before["active"]  # bug 6: an unchanged deploy moved to the other slot
    for hostname in ("fastapi.stackyard.test", "flask.stackyard.test"):
        assert stack.health(hostname)[0] == 200


def test_an_up_with_nothing_to_do_changes_nothing(stack: LocalStack) -> None:
    """The no-op `pulumi up` an operator runs most: nothing changes, and its time is a figure."""
    again = stack.up()
    changes = again.summary()["resourceChanges"]
    assert set(changes) == {"same"}, changes
    FIGURES.append(f"no-op pulumi up ({local_host.DISTRO}): {again.seconds:.1f} s ({changes})")
