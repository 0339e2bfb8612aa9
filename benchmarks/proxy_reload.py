"""How often a proxy's graceful reload fails a request under load, on the local host.

Every blue/green switch reloads the proxy (components/render/shell/proxy-*.sh: `systemctl reload caddy`,
or nginx's reload after `nginx -t`). This measures what one such reload costs, with nothing else
changing: a host with the proxy serving one static hostname over HTTPS (its certificate from Pebble,
as in tests/e2e/test_22_acme.py), a fixed HTTPS load on a new connection per request, and the reload
run again and again. Each failed request is printed with its time from the start of the reload
nearest to it, so a failure that comes with the reload shows as one.

Figures (each repeated; median, fastest, slowest, so the machine's noise shows):
  - failed requests per round of reloads, for the proxy's own reload (`systemctl reload <proxy>`);
  - how long one reload takes.

Run as root: venv/bin/python benchmarks/proxy_reload.py [--proxy caddy|nginx] [--repeat N] [--reloads M]
(about 4 minutes per round of 150 reloads). It stops any running local host first and leaves it stopped;
it uses a disk of its own ("bench").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e"), str(ROOT / "scripts")]
os.environ["STACKYARD_LOCAL_DISK"] = "bench"

import local_acme  # noqa: E402
from figures import row  # noqa: E402
from test_22_acme import first_issuance  # noqa: E402

from load import Load  # noqa: E402
from local import local_host  # noqa: E402


class Failures(list):
    """(when, error) of each failed request of a round; ``total``: the requests sent."""

    total = 0


def reload_round(stack, hostname: str, reloads: int, rate: float, walls: list[float]) -> tuple[Failures, list[float]]:
    """``reloads`` reloads one second apart under the load: the failed requests, and when each reload started."""
    failures = Failures()
    lock = threading.Lock()

    def fetch(host: str, path: str, timeout: float = 5) -> tuple[int, str]:
        try:
            return stack.fetch(host, path, timeout)
        except OSError as err:
            with lock:
                failures.append((time.monotonic(), type(err).__name__))
            raise

    starts: list[float] = []
    with Load(hostname, rate, path="/", fetch=fetch) as load:
        time.sleep(2)
        for _ in range(reloads):
            starts.append(time.monotonic())
            stack.ssh(f"systemctl reload {stack.kind}")
            walls.append(time.monotonic() - starts[-1])
            time.sleep(1)
        time.sleep(2)
    failures.total = load.tally.total
    return failures, starts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proxy", choices=("caddy", "nginx"), default="caddy")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--reloads", type=int, default=150)
    parser.add_argument("--rate", type=float, default=40.0)
    args = parser.parse_args()
    print(f"{args.proxy} reload benchmark: {args.repeat} rounds of {args.reloads} reloads under {args.rate:.0f} "
          f"requests/s, {os.cpu_count()} cores")
    local_acme.build()
    try:
        stack = first_issuance(args.proxy, Path(tempfile.mkdtemp(prefix="stackyard-bench-reload-")))
        hostname = f"{args.proxy}.acme.stackyard.test"
        version = "caddy version" if args.proxy == "caddy" else "nginx -v 2>&1"
        print("  " + stack.ssh(version).stdout.strip().splitlines()[0])
        failed, walls, total = [], [], 0
        for _ in range(args.repeat):
            failures, starts = reload_round(stack, hostname, args.reloads, args.rate, walls)
            failed.append(float(len(failures)))
            total += failures.total
            for at, error in failures:
                nearest = min(starts, key=lambda start: abs(at - start))
                print(f"  {error} {at - nearest:+.3f} s from the start of a reload")
        row(f"failed requests per {args.reloads} reloads", failed, "req")
        row("one reload (systemctl reload over SSH)", walls)
        print(f"  requests in all: {total}")
    finally:
        local_host.down()


if __name__ == "__main__":
    main()
