"""The end-to-end tier: the local stack applied by the real `pulumi` to a real Debian 12 or Ubuntu 24.04
host (STACKYARD_DISTRO, scripts/local_host.py; Debian 12 unless it says otherwise).

The host is scripts/local_host.py's systemd-nspawn container, booted from a fresh copy of its image
for the session and stopped at the end (`down`: every change to this machine undone). The stack
runs on a throwaway project (tests/helpers/workspace.py) with its own backend, so a `make up` of your own
is not touched, except that the host is restarted fresh. The tests run in file order, each
building on the host the previous ones left: serving, re-runs, secrets, redeploys, reboot, removal.

It needs root, systemd-nspawn, debootstrap, iptables and the offline toolchain (`make test-e2e`
installs what apt can); without them it skips, saying which.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.workspace import ToolchainMissing, make_tmp, toolchain_bin

from local import FIGURES, S3_PORT, LocalStack, deploy_local_stack, local_host


def pytest_collection_modifyitems(config, items) -> None:
    here = Path(__file__).parent
    mine = [item for item in items if Path(str(item.fspath)).parent == here]
    if not mine:
        return
    reason = None
    if os.geteuid() != 0:
        reason = "e2e tier: needs root (network namespaces, systemd-nspawn)"
    else:
        missing = [tool for tool in ("systemd-nspawn", "debootstrap", "iptables") if shutil.which(tool) is None]
        if missing:
            reason = f"e2e tier: {', '.join(missing)} not installed (make host-deps)"
    if reason is None:
        try:
            toolchain_bin()
        except ToolchainMissing as err:
            reason = f"e2e tier: no Pulumi toolchain ({err})"
    if reason:
        for item in mine:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("e2e figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def host() -> Iterator[None]:
    local_host.down()
    timings = local_host.up(fresh=True)
    FIGURES.append(f"host ({local_host.DISTRO}): " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    try:
        yield
    finally:
        local_host.down()


@pytest.fixture(scope="session")
def stack(host) -> Iterator[LocalStack]:
    tmp = make_tmp("stackyard-e2e-")
    deployed = deploy_local_stack(tmp)
    first = deployed.first
    FIGURES.append(f"first pulumi up: {first.seconds:.1f} s ({first.summary()['resourceChanges']})")
    try:
        yield deployed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """An S3 server (moto's) on this machine's end of the host's link, for a module and stopped after it:
    where the local stack's backups go."""
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", local_host.HOST_IP,
                               "-p", str(S3_PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((local_host.HOST_IP, S3_PORT), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.3)
        yield f"http://{local_host.HOST_IP}:{S3_PORT}"
    finally:
        server.terminate()
        server.wait(timeout=30)
