"""Deploys under load: a new commit of the FastAPI sample goes live with no failed request, where a plain
restart drops some; a release whose health check fails never takes traffic; a rollback reuses the kept
release. The load is the same in every run (load.py: a fixed rate, a new HTTPS connection per request)."""

from __future__ import annotations

import time

from load import Load, run_for
from local import FIGURES, LocalStack

FASTAPI = "fastapi.stackyard.test"
RATE = 40.0
"""Requests per second: well within what the host serves (the baseline run below must lose none)."""
REF = "stackyard:systems.local.services.fastapi-sample.source.ref"


def deploy_under_load(stack: LocalStack, hostname: str, action) -> tuple[object, float]:
    with Load(hostname, RATE) as load:
        time.sleep(2)
        started = time.monotonic()
        result = action()
        seconds = time.monotonic() - started
        time.sleep(2)
    return load.tally, seconds, result


def test_a_new_release_goes_live_without_dropping_a_request(stack: LocalStack) -> None:
    baseline = run_for(FASTAPI, RATE, 10)
    FIGURES.append(f"baseline, {RATE:.0f} req/s for 10 s, no deploy: {baseline.summary()}")
    assert baseline.failed == 0 and baseline.total >= RATE * 9

    sha = stack.publish("fastapi-sample", "2", tag="v2")
    stack.set_config(REF, "v2")
    tally, seconds, result = deploy_under_load(stack, FASTAPI, stack.up)
    FIGURES.append(f"redeploy of fastapi-sample (pulumi up, {seconds:.1f} s) under the same load: {tally.summary()}")
    assert tally.failed == 0, tally.summary()
    assert set(tally.versions) == {"1", "2"}  # traffic moved from the old release to the new one
    assert result.applied()["replace"] >= {"local-box-setup-fastapi-sample-deploy"}
    assert stack.ssh("cat /srv/fastapi-sample/active").stdout.split()[1] == sha
    assert '"version":"2"' in stack.health(FASTAPI)[1]


def test_a_plain_restart_under_the_same_load_drops_requests(stack: LocalStack) -> None:
    # Not stackyard's way: what `systemctl restart` (seed 004) and `pm2 restart` (seed 003) do to the same load.
    slot = stack.ssh("cat /srv/fastapi-sample/active").stdout.split()[0]
    restart, seconds, _ = deploy_under_load(
        stack, FASTAPI, lambda: stack.ssh(f"systemctl restart 'stackyard-fastapi-sample-{slot}@*'"))
    FIGURES.append(f"plain systemctl restart of fastapi-sample ({seconds:.1f} s) under the same load: "
                   f"{restart.summary()}")
    flask = stack.ssh("cat /srv/flask-sample/active").stdout.split()[0]
    pm2, seconds, _ = deploy_under_load(
        stack, "flask.stackyard.test",
        lambda: stack.ssh(f"cd /var/lib/stackyard/flask-sample && runuser -u svc-flask-sample -- env "
                          f"HOME=/var/lib/stackyard/flask-sample PM2_HOME=/var/lib/stackyard/flask-sample/pm2/{flask} "
                          f"pm2 restart flask-sample-{flask}-0"))
    FIGURES.append(f"plain pm2 restart of flask-sample ({seconds:.1f} s) under the same load: {pm2.summary()}")
    stack.wait_healthy(FASTAPI)
    stack.wait_healthy("flask.stackyard.test")


def test_a_release_whose_health_fails_never_takes_traffic(stack: LocalStack) -> None:
    serving = stack.ssh("cat /srv/fastapi-sample/active").stdout.split()
    stack.publish("fastapi-sample", "3", tag="v3-broken", health="broken")
    stack.set_config(REF, "v3-broken")
    tally, _, failed = deploy_under_load(stack, FASTAPI, lambda: stack.up(check=False))
    assert failed.returncode != 0
    assert "failed its health check" in failed.printed()
    # The app's answer may hold anything it prints: `pulumi up` shows its status and where root finds it.
    assert "last answer: HTTP 503" in failed.printed()
    assert "broken on purpose" not in failed.printed()
    assert "broken on purpose" in stack.ssh("cat /srv/fastapi-sample/last-failed-health").stdout
    assert stack.ssh("stat -c '%U %a' /srv/fastapi-sample/last-failed-health").stdout.split() == ["root", "600"]
    assert tally.failed == 0 and set(tally.versions) == {"2"}
    assert stack.ssh("cat /srv/fastapi-sample/active").stdout.split() == serving


def test_setting_the_ref_back_rolls_back_to_the_kept_release(stack: LocalStack) -> None:
    stack.set_config(REF, "main")
    rollback = stack.up()
    assert "building release" not in rollback.printed()  # the kept release of main is reused
    assert "serving" in rollback.printed()
    assert '"version":"1"' in stack.health(FASTAPI)[1]
    stack.set_config(REF, "v2")
    forward = stack.up()
    assert "building release" not in forward.printed()
    assert '"version":"2"' in stack.health(FASTAPI)[1]


def test_ref_main_deploys_again_when_main_moves(stack: LocalStack) -> None:
    stack.set_config(REF, "main")
    stack.up()
    moved = stack.publish("fastapi-sample", "4", tag="v4", branch="main")
    planned = stack.ws.preview("local")
    deploy = next(s for s in planned.json()["steps"] if s["urn"].endswith("::local-box-setup-fastapi-sample-deploy"))
    assert deploy["newState"]["inputs"]["create"] == f"/srv/fastapi-sample/deploy {moved}"  # the preview shows it
    stack.up()
    assert stack.ssh("cat /srv/fastapi-sample/active").stdout.split()[1] == moved
    assert '"version":"4"' in stack.health(FASTAPI)[1]
