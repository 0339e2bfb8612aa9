"""The engine tier: the real `pulumi` CLI (the offline toolchain) runs stackyard, with no network.

`make test-engine` runs it inside a network namespace of its own (scripts/offline): only loopback
exists there, so nothing can reach a cloud API, and every server a test starts (the fake Supabase
API, PostgreSQL, sshd) lives on that loopback. Run any other way, the tier skips, saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.workspace import ToolchainMissing, Workspace, make_tmp, toolchain_bin

NETWORK = Path("/proc/self/net/dev")
"""Interfaces of this process's network namespace (/sys/class/net shows the namespace sysfs was mounted in)."""


def isolated() -> bool:
    """True inside a network namespace that has no interface but loopback."""
    try:
        lines = NETWORK.read_text().splitlines()[2:]
    except OSError:
        return False
    return {line.split(":", 1)[0].strip() for line in lines} == {"lo"}


def pytest_collection_modifyitems(config, items) -> None:
    engine_items = [item for item in items if Path(str(item.fspath)).parent == Path(__file__).parent]
    if not engine_items:
        return
    reason = None
    try:
        toolchain_bin()
    except ToolchainMissing as err:
        reason = f"engine tier: no Pulumi toolchain ({err})"
    if reason is None and not isolated():
        reason = ("engine tier: not inside a network namespace of its own; run it with `make test-engine` "
                  "(scripts/offline)")
    if reason:
        for item in engine_items:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def pulumi_bin() -> Path:
    return toolchain_bin()


@pytest.fixture
def workspace(pulumi_bin: Path) -> Iterator[Callable[..., Workspace]]:
    """Makes Workspaces in temporary directories, removed afterwards."""
    import shutil

    made: list[Path] = []

    def make(**kwargs) -> Workspace:
        tmp = make_tmp("stackyard-engine-")
        made.append(tmp)
        return Workspace(tmp, pulumi_bin, **kwargs)

    yield make
    for tmp in made:
        shutil.rmtree(tmp, ignore_errors=True)
