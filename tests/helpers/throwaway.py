"""Pytest fixtures for the throwaway servers the tests start themselves (PostgreSQL, sshd)."""

from __future__ import annotations

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
