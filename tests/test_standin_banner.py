"""The stand-ins' warning is said once per run of the engine, naming every stand-in of the run
(tests/standin/provider.py): a preview through five stand-ins printed five, and a `pulumi up` ten."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from standin.clouds import cloud_named
from standin.provider import first_of_run, standins_beside


def test_of_many_stand_ins_starting_at_once_in_one_run_one_is_first(tmp_path: Path) -> None:
    engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for round_ in range(5):
            marks = tmp_path / f"round-{round_}"
            with ThreadPoolExecutor(max_workers=8) as pool:
                firsts = list(pool.map(first_of_run, [engine.pid] * 8, [marks] * 8))
            assert firsts.count(True) == 1, firsts
            assert not first_of_run(engine.pid, marks)  # the same run's update phase: said already
    finally:
        engine.kill()
        engine.wait()


def test_the_next_run_says_it_again_and_a_finished_run_s_mark_goes(tmp_path: Path) -> None:
    runs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)]
    try:
        assert first_of_run(runs[0].pid, tmp_path)
        runs[0].kill()
        runs[0].wait()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{runs[0].pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first_of_run(runs[1].pid, tmp_path)
        assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == [str(runs[1].pid)]
    finally:
        runs[1].kill()
        runs[1].wait()


def test_the_warning_names_the_stand_ins_the_run_has_on_its_path(tmp_path: Path) -> None:
    for name in ("hcloud", "vercel"):
        (tmp_path / f"pulumi-resource-{name}").symlink_to("pulumi-resource-standin")
    (tmp_path / "pulumi-resource-standin").touch()
    (tmp_path / "pulumi-resource-random").touch()  # a real plugin beside them: not a stand-in
    named = [c.name for c in standins_beside(str(tmp_path), cloud_named("hcloud"))]
    assert named == ["hcloud", "vercel"]
    assert [c.name for c in standins_beside(None, cloud_named("github"))] == ["github"]
