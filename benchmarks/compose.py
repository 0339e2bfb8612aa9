"""What a Compose redeploy costs in failed requests, and how fast the watchdog brings back a frozen
container, on the local Debian host (tests/e2e/compose_host.py: examples/compose-sample's gateway
and backend, the gateway calling the backend by name through nginx).

Figures (each repeated; median, fastest, slowest, so the machine's noise shows):
  - a redeploy of the backend (the called service) under a fixed HTTPS load through the gateway:
    wall time of `pulumi up`, failed requests;
  - the same for the gateway (the public service);
  - the app in a backend container frozen with SIGSTOP: time until the watchdog's restart answers
    again (checks every 3 s, restart after 2 failures, a 10 s stop timeout for the hung container).

Run as root: venv/bin/python benchmarks/compose.py [--repeat N]   (about 6 minutes with N=3)
It stops any running local host first and leaves it stopped; it uses a disk of its own ("bench").
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e"), str(ROOT / "scripts")]
os.environ["STACKYARD_LOCAL_DISK"] = "bench"

from figures import row  # noqa: E402

from compose_host import HOSTNAME, compose_project, freeze_backend_container, import_base_image, install_plugin  # noqa: E402
from load import Load  # noqa: E402
from local import local_host  # noqa: E402

RATE = 20.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    n = parser.parse_args().repeat
    print(f"compose benchmark, {n} runs each, {os.cpu_count()} cores")
    tmp = Path(tempfile.mkdtemp(prefix="stackyard-bench-compose-"))
    try:
        stack = compose_project(tmp)
        stack.up(check=False)  # Debian 12: stops for want of the plugin, after installing Docker
        install_plugin()
        import_base_image()
        stack.up()
        for service in ("compose-backend", "compose-gateway"):
            walls, failed, totals = [], [], []
            for i in range(n):
                tag = f"bench-{service}-{i}"
                stack.publish("compose-sample", f"b{i}", tag=tag)
                stack.edit_system(lambda system, s=service, t=tag: system["services"][s]["source"].update(ref=t))
                with Load(HOSTNAME, RATE) as load:
                    time.sleep(2)
                    walls.append(stack.up().seconds)
                    time.sleep(2)
                failed.append(float(load.tally.failed))
                totals.append(load.tally.total)
            row(f"redeploy of {service} under load: pulumi up, wall time", walls)
            row(f"redeploy of {service} ({RATE:.0f} req/s): failed requests", failed, "req")
            print(f"  requests per run: {totals}")
        stack.edit_system(lambda system: system["services"]["compose-backend"].update(
            watchdog={"interval": 3, "failures": 2, "restarts": 2}))
        stack.up()
        recoveries = []
        for _ in range(n):
            recovery = freeze_backend_container(stack)
            if recovery.seconds is None:
                print(f"  frozen container {recovery.frozen}: not back within 120 s")
            else:
                recoveries.append(recovery.seconds)
            print(f"  the other instance answered {recovery.other_answers}/{recovery.other_checks} checks, "
                  f"restarted: {recovery.other_restarted}")
            stack.wait_healthy(HOSTNAME)
            time.sleep(8)  # let the watchdog see the container healthy again before the next freeze
        if recoveries:
            row("frozen container (SIGSTOP) to a restarted one answering", recoveries)
    finally:
        local_host.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
