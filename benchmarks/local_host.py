"""How long the local host and the local stack take, and what a redeploy costs in failed requests.

Figures (each repeated; median, fastest, slowest, so the machine's noise shows):
  - image build, cold (in a scratch cache, so the real one is untouched) and warm (cached);
  - boot to SSH (disk copy not included: it is its own row);
  - first `pulumi up` on a fresh disk, and a no-op `pulumi up`;
  - a redeploy of the FastAPI sample under a fixed HTTPS load, and a plain `systemctl restart` of the
    same service under the same load: wall time and failed requests of each.
  - a FastAPI instance frozen with SIGSTOP: time until the health watchdog's restart answers again
    (the local stack checks every 3 s and restarts after 2 failures).

Run as root: venv/bin/python benchmarks/local_host.py [--repeat N]   (about 15 minutes with N=3)
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

from load import Load  # noqa: E402
from local import deploy_local_stack, freeze_fastapi_instance, local_host  # noqa: E402

RATE = 40.0
REF = "stackyard:systems.local.services.fastapi-sample.source.ref"


def cold_image_build() -> float:
    scratch = Path(tempfile.mkdtemp(prefix="stackyard-bench-cache-"))
    real = local_host.PATHS
    local_host.PATHS = local_host.Paths(scratch / "local-host")
    try:
        started = time.monotonic()
        local_host.build_image()
        return time.monotonic() - started
    finally:
        local_host.PATHS = real
        shutil.rmtree(scratch, ignore_errors=True)


def under_load(action) -> tuple[float, int, int]:
    with Load("fastapi.stackyard.test", RATE) as load:
        time.sleep(2)
        started = time.monotonic()
        action()
        seconds = time.monotonic() - started
        time.sleep(2)
    return seconds, load.tally.failed, load.tally.total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.repeat
    print(f"local host benchmark, {n} runs each, {os.cpu_count()} cores")
    local_host.down()

    row("image build, cold (debootstrap + setup)", [cold_image_build() for _ in range(max(1, n - 1))])
    warm = []
    for _ in range(n):
        started = time.monotonic()
        local_host.build_image()
        warm.append(time.monotonic() - started)
    row("image build, warm (cached)", warm)

    disk, boots, first, noop = [], [], [], []

    def fresh_host() -> None:
        local_host.down()
        started = time.monotonic()
        local_host.disk(fresh=True)
        disk.append(time.monotonic() - started)
        started = time.monotonic()
        local_host.network_up()
        local_host.boot()
        local_host.wait_for_ssh()
        boots.append(time.monotonic() - started)
        local_host.publish_repos()
        local_host.serve_repos()

    for _ in range(max(0, n - 2)):
        fresh_host()
    for _ in range(min(n, 2)):  # a first `up` costs minutes: twice is enough to see its noise
        fresh_host()
        stack = deploy_local_stack(Path(tempfile.mkdtemp(prefix="stackyard-bench-")))
        first.append(stack.first.seconds)
    row("disk: fresh copy of the image", disk)
    row("boot to SSH", boots)
    row("first pulumi up (fresh host, 23 resources)", first)
    for _ in range(n):
        noop.append(stack.up().seconds)
    row("no-op pulumi up", noop)

    deploys, restarts = [], []
    for i in range(n):
        tag = f"bench-{i}"
        stack.publish("fastapi-sample", f"b{i}", tag=tag)
        stack.set_config(REF, tag)
        deploys.append(under_load(stack.up))
        units = f"'stackyard-fastapi-sample-{stack.ssh('cat /srv/fastapi-sample/active').stdout.split()[0]}@*'"
        restarts.append(under_load(lambda units=units: stack.ssh(f"systemctl restart {units}")))
        stack.wait_healthy("fastapi.stackyard.test")
    row("redeploy under load: pulumi up, wall time", [d[0] for d in deploys])
    row(f"redeploy under load ({RATE:.0f} req/s): failed requests", [float(d[1]) for d in deploys], "req")
    row("plain systemctl restart under load: wall time", [r[0] for r in restarts])
    row(f"plain systemctl restart under load ({RATE:.0f} req/s): failed", [float(r[1]) for r in restarts], "req")
    print(f"  requests per run: {[d[2] for d in deploys]} (deploys), {[r[2] for r in restarts]} (restarts)")
    recoveries = []
    for _ in range(n):
        recovery = freeze_fastapi_instance(stack)
        if recovery.seconds is None:
            print(f"  frozen instance {recovery.frozen}: not back within 90 s")
        else:
            recoveries.append(recovery.seconds)
        stack.wait_healthy("fastapi.stackyard.test")
        time.sleep(8)  # let the watchdog see the instance healthy again before the next freeze
    if recoveries:
        row("frozen instance (SIGSTOP) to a new one answering", recoveries)
    local_host.down()


if __name__ == "__main__":
    main()
