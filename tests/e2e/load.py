"""A bounded HTTPS load on the local host: a fixed number of requests per second, each on a new
connection through the proxy, counting every answer that is not 2xx and every connection that fails.

Fixed rate rather than as fast as possible, so a run with a deploy and a run without one put the
same load on the host, and a failure means the deploy dropped a request, not that the host was
saturated. Runs in a thread while the caller does something else (a deploy, a restart).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from local import local_stack


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return self.ok + self.failed

    def summary(self) -> str:
        p50 = statistics.median(self.latencies) * 1000 if self.latencies else 0
        p99 = sorted(self.latencies)[int(len(self.latencies) * 0.99) - 1] * 1000 if self.latencies else 0
        return (f"{self.total} requests, {self.failed} failed {dict(self.errors) or ''}, "
                f"latency p50 {p50:.0f} ms p99 {p99:.0f} ms, versions {self.versions}")


class Load:
    def __init__(self, hostname: str, rate: float, path: str = "/health", workers: int = 32,
                 fetch: Callable[..., tuple[int, str]] = local_stack.fetch) -> None:
        self.hostname = hostname
        self.fetch = fetch
        self.rate = rate
        self.path = path
        self.tally = Tally()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _one(self) -> None:
        started = time.monotonic()
        try:
            status, body = self.fetch(self.hostname, self.path, timeout=10)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except OSError as err:
            body, error = "", type(err).__name__
        elapsed = time.monotonic() - started
        version = body.split('"version":"', 1)[1].split('"', 1)[0] if '"version":"' in body else None
        with self.tally.lock:
            if error is None:
                self.tally.ok += 1
                self.tally.latencies.append(elapsed)
                self.tally.versions[version or "?"] = self.tally.versions.get(version or "?", 0) + 1
            else:
                self.tally.failed += 1
                self.tally.errors[error] = self.tally.errors.get(error, 0) + 1

    def _run(self) -> None:
        start = time.monotonic()
        sent = 0
        while not self._stop.is_set():
            due = start + sent / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._pool.submit(self._one)
            sent += 1

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)


def run_for(hostname: str, rate: float, seconds: float) -> Tally:
    with Load(hostname, rate) as load:
        time.sleep(seconds)
    return load.tally
