"""A service moved to another runtime, under load: the FastAPI sample from systemd to PM2 and back. The
old runtime's slot served until the switch and is then stopped, none of it left running beside the new
one (its scripts are no longer rendered: the deploy stops what other runtimes run of the slot)."""

from __future__ import annotations

import time

from load import Load
from local import FIGURES, LocalStack

HOSTNAME = "fastapi.stackyard.test"


def active_units(stack: LocalStack, *patterns: str) -> list[str]:
    listed = stack.ssh("systemctl list-units --state=active --plain --no-legend "
                       + " ".join(f"'{p}'" for p in patterns)).stdout
    return [line.split()[0] for line in listed.splitlines() if line.strip()]


def test_a_service_moved_to_another_runtime_leaves_nothing_of_the_old_one(stack: LocalStack) -> None:
    # systemd's slots are stackyard-<service>-<colour>@<port>; PM2's daemons stackyard-<service>-pm2@<colour>.
    systemd_slots = ("stackyard-fastapi-sample-blue@*.service", "stackyard-fastapi-sample-green@*.service")
    for runtime, left in (("pm2", systemd_slots), ("systemd", ("stackyard-fastapi-sample-pm2*.service",))):
        stack.edit_system(lambda system, r=runtime: system["services"]["fastapi-sample"].update(runtime=r))
        with Load(HOSTNAME, 20.0) as load:
            time.sleep(2)
            started = time.monotonic()
            stack.up()
            seconds = time.monotonic() - started
            time.sleep(2)
        FIGURES.append(f"fastapi-sample moved to {runtime} (pulumi up, {seconds:.1f} s) under 20 req/s: "
                       f"{load.tally.summary()}")
        assert load.tally.failed == 0, load.tally.summary()
        assert active_units(stack, *left) == [], f"{runtime}: the old runtime still runs {left}"
        assert stack.health(HOSTNAME)[0] == 200
    assert active_units(stack, *systemd_slots)
