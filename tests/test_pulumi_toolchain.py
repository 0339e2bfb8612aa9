"""scripts/pulumi-toolchain: finding the offline CLI, from callers that start at the same time.

The engine tier's workers (pytest-xdist) each ask for the CLI at once on a fresh cache. A fake
toolchain (an archive holding a bin/pulumi, and its SHA256SUMS) stands in for the real one.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pulumi-toolchain"
CALLERS = 8


@pytest.fixture
def toolchain(tmp_path: Path) -> Path:
    """A folder holding pulumi-offline-0.0.1.tar.xz (top folder, then bin/pulumi) and its SHA256SUMS."""
    tree = tmp_path / "tree" / "pulumi-offline-0.0.1" / "bin"
    tree.mkdir(parents=True)
    (tree / "pulumi").write_text("#!/bin/sh\necho fake pulumi\n")
    (tree / "pulumi").chmod(0o755)
    folder = tmp_path / "toolchain"
    folder.mkdir()
    archive = folder / "pulumi-offline-0.0.1.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(tree.parent, arcname="pulumi-offline-0.0.1")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    (folder / "SHA256SUMS").write_text(f"{digest}  {archive.name}\n")
    return folder


def callers_at_once(toolchain: Path, cache: Path) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "STACKYARD_TOOLCHAIN": "offline", "STACKYARD_TOOLCHAIN_DIR": str(toolchain),
           "STACKYARD_CACHE": str(cache)}

    def call(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(SCRIPT), "bin"], env=env, capture_output=True, text=True, timeout=60)

    with ThreadPoolExecutor(CALLERS) as pool:
        return list(pool.map(call, range(CALLERS)))


@pytest.mark.parametrize("round_", range(5))
def test_callers_at_once_on_a_fresh_cache_all_get_the_one_unpacked_cli(toolchain: Path, tmp_path: Path, round_: int):
    cache = tmp_path / f"cache-{round_}"
    results = callers_at_once(toolchain, cache)
    failed = [r.stderr for r in results if r.returncode != 0]
    assert not failed, failed
    bins = {r.stdout.strip() for r in results}
    assert len(bins) == 1, bins
    (bin_dir,) = bins
    assert subprocess.run([f"{bin_dir}/pulumi"], capture_output=True, text=True).stdout == "fake pulumi\n"
    # No caller's scratch copy or stamp is left beside the one in use.
    unpacked = cache / "toolchain"
    assert sorted(p.name for p in unpacked.iterdir()) == sorted(["keys", Path(bin_dir).parent.name])
    assert len(list((unpacked / "keys").iterdir())) == 1
    # A second call finds it by its stamp.
    assert {r.stdout.strip() for r in callers_at_once(toolchain, cache)} == bins
