"""One server, one stack: the base step marks the server as its stack's (<project>/<stack>), and the
pre-flight of any other stack stops. A staging stack made with a copy of production's config would
otherwise rewrite production's proxy site, database passwords and backups, and its destroy would stop
production's services (their claims have the same names)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.model.host_layout import Paths
from components.render.preflight import PreflightPlan, _owner
from components.render.provision import base_script


def conflicts(tmp_path: Path, marked: str | None, owner: str = "stackyard/production") -> list[str]:
    paths = Paths(etc=str(tmp_path / "etc"))
    if marked is not None:
        (tmp_path / "etc").mkdir(exist_ok=True)
        Path(paths.owner).write_text(marked)
    check = "\n".join(_owner(PreflightPlan(system="s", host="h", accessories={}, services=[], owner=owner,
                                           paths=paths)))
    done = subprocess.run(["bash", "-c", f'set -uo pipefail\nconflict() {{ echo "conflict: $*"; }}\n{check}\n'],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("marked", [None, "stackyard/production\n"])
def test_an_unmarked_server_or_one_of_this_stack_is_no_conflict(marked: str | None, tmp_path: Path) -> None:
    assert conflicts(tmp_path, marked) == []


@pytest.mark.parametrize("marked", ["stackyard/staging\n", "other-project/production\n", "x" * 10_000])
def test_a_server_another_stack_provisions_is_a_conflict(marked: str, tmp_path: Path) -> None:
    (found,) = conflicts(tmp_path, marked)
    assert "this is stackyard/production" in found and len(found) < 1000, found


def test_the_base_step_marks_the_server_as_its_stacks(tmp_path: Path) -> None:
    script = base_script(ssh_port=22, ufw=False, login_user="root", owner="stackyard/production")
    assert "cat > /etc/stackyard/owner.new" in script and "\nstackyard/production\n" in script
    assert "/etc/stackyard/owner" not in base_script(ssh_port=22, ufw=False, login_user="root")
