"""The release phase on the real host: the Flask sample's migration (examples/flask-sample/backend/
migrate.py, `release:` in the stack) runs once per release, before the release serves, with the service's
env (its DATABASE_URL, percent-encoded, reaches MariaDB); its output is in `pulumi up`'s, the URL's secret
masked. A failing one stops `up` with its output shown and the old release serving: under load, no
request fails. An `up` with nothing changed runs nothing again."""

from __future__ import annotations

import time

from components.model import connections
from load import Load
from local import FIGURES, LocalStack

FLASK = "flask.stackyard.test"
RATE = 20.0
REF = "stackyard:systems.local.services.flask-sample.source.ref"
MIGRATE = ".venv/bin/python backend/migrate.py"


def migrations(stack: LocalStack) -> list[str]:
    """The releases the migration ran for, from MariaDB (root over its socket)."""
    done = stack.ssh("mysql -N -e 'SELECT version FROM sample.migrations ORDER BY id'", check=False)
    return done.stdout.split() if done.returncode == 0 else []


def up_under_load(stack: LocalStack, label: str, *, check: bool = True):
    with Load(FLASK, RATE) as load:
        time.sleep(2)
        result = stack.up(check=check)
        time.sleep(2)
    FIGURES.append(f"flask-sample, {label} (pulumi up, {result.seconds:.1f} s) under {RATE:.0f} req/s: "
                   f"{load.tally.summary()}")
    assert load.tally.failed == 0, load.tally.summary()
    return result, load.tally


def test_the_release_phase_runs_once_before_its_release_serves_and_a_failure_keeps_the_old_one(
        stack: LocalStack) -> None:
    before = migrations(stack)
    stack.edit_system(lambda system: system["services"]["flask-sample"].update(release=[MIGRATE]))
    first_sha = stack.publish("flask-sample", "r1", tag="release-1")
    stack.set_config(REF, "release-1")
    first, tally = up_under_load(stack, "release r1 with its migration")
    assert migrations(stack) == [*before, "r1"]
    assert "migrated release r1" in first.output
    assert "[secret DATABASE_URL]" in first.output  # the migration printed the URL: masked
    password = stack.ssh("cat /etc/stackyard/accessories/mysql.password").stdout.rstrip("\n")
    for form in (password, connections.encode(password)):
        assert form not in first.output
    assert stack.ssh("cat /srv/flask-sample/active").stdout.split()[1] == first_sha

    again = stack.up()
    assert migrations(stack) == [*before, "r1"]  # nothing changed: no second run
    assert not any("flask-sample" in name for names in again.applied().values() for name in names)

    # A migration that fails: `up` stops, showing why; r1 goes on serving throughout.
    stack.publish("flask-sample", "r2", tag="release-2")
    stack.set_config(REF, "release-2")
    stack.edit_system(lambda system: system["services"]["flask-sample"].update(release=[f"{MIGRATE} fail"]))
    failed, tally = up_under_load(stack, "release r2 whose migration fails", check=False)
    assert failed.returncode != 0
    assert "error: relation 'orders' does not exist" in failed.output
    assert "its release phase failed" in failed.output
    assert set(tally.versions) == {"r1"}
    assert stack.ssh("cat /srv/flask-sample/active").stdout.split()[1] == first_sha
    assert migrations(stack) == [*before, "r1"]

    stack.edit_system(lambda system: system["services"]["flask-sample"].update(release=[MIGRATE]))
    _, tally = up_under_load(stack, "release r2, its migration fixed")
    assert migrations(stack) == [*before, "r1", "r2"]
    assert set(tally.versions) <= {"r1", "r2"} and '"version":"r2"' in stack.health(FLASK)[1]
