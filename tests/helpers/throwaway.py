"""Pytest fixtures for the throwaway servers the tests start themselves (PostgreSQL, sshd)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest


def server_fixture(make: Callable[[], Any], unavailable: type[Exception], *, scope: str, name: str):
    """A fixture that yields ``make()`` started and stops it afterwards; where ``make`` raises
    ``unavailable`` (a program or a privilege missing here), the tests using it skip with its message."""

    @pytest.fixture(scope=scope, name=name)
    def fixture() -> Iterator[Any]:
        try:
            server = make()
        except unavailable as err:
            pytest.skip(str(err))
        server.start()
        try:
            yield server
        finally:
            server.stop()

    return fixture


class Reaper:
    """Stops a throwaway server when the test process that started it is gone, however it went.

    ``stop()`` in a fixture's ``finally`` and ``atexit`` run only when Python ends normally: a test run
    killed with SIGTERM or SIGKILL (a CI job cancelled, a run stopped by hand) left its PostgreSQL
    listening until someone killed it. The reaper is a small shell in a session of its own, so the
    signal that ends the run's process group does not end it too; it polls the test process once a
    second and, once that is gone, runs ``command`` (the server's own clean stop) and exits. A
    normal stop ends the reaper first (``cancel()``)."""

    _SCRIPT = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; shift; exec "$@"'

    def __init__(self, command: list[str]) -> None:
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            ["bash", "-c", self._SCRIPT, "stackyard-reaper", str(os.getpid()), *command],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def cancel(self) -> None:
        """The server is stopped the normal way: the reaper goes without running its command."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
