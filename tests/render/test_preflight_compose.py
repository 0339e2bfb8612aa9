"""The pre-flight and an operator's own Docker Compose projects: a service's slots are the projects
<name>-blue and <name>-green, whatever its runtime, and a deploy or a removal takes them down or up (with
--remove-orphans). One of that name that is not stackyard's is a conflict; stackyard's own is not."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.render.layout import ServicePlan
from components.render.preflight import PreflightPlan, _compose_projects

SERVICE = ServicePlan(name="shop", runtime="systemd", repo="r", ref="main", command="x", port=9000)


def preflight(tmp_path: Path, containers: list[str] | None) -> list[str]:
    """The pre-flight's compose check on a host whose `docker ps` lists ``containers`` (project and
    definition per line, as the real one formats them; None: no Docker). Its conflicts, one per line."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    if containers is not None:
        (tmp_path / "listed").write_text("".join(f"{line}\n" for line in containers))
        # Only the filters the check asks for reach the listing, as in Docker (filters of one key: any of them).
        (stubs / "docker").write_text(
            "#!/bin/bash\nwanted=$(printf '%s\\n' \"$@\" | sed -n 's/^label=com.docker.compose.project=//p')\n"
            f"while read -r project rest; do grep -qx \"$project\" <<< \"$wanted\" && echo \"$project $rest\"; "
            f"done < {tmp_path}/listed\n")
        (stubs / "docker").chmod(0o755)
    check = "\n".join(_compose_projects(PreflightPlan(system="s", host="h", accessories={}, services=[SERVICE])))
    result = subprocess.run(["bash", "-c", 'conflict() { echo "$*"; }\n' + check],
                            env={"PATH": f"{stubs}:/usr/bin:/bin"}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.parametrize("listed", [
    ["shop-blue /home/ops/shop/docker-compose.yml"],  # blue/green by hand
    ["shop-green /srv/shop/compose.yml,/srv/shop/compose.override.yml"],
    ["shop-blue "],  # no definition known (created by `docker run` with the label)
])
def test_an_operators_project_of_a_slots_name_is_a_conflict(listed: list[str], tmp_path: Path) -> None:
    found = preflight(tmp_path, listed)
    assert len(found) == 1 and listed[0].split()[0] in found[0] and "docker compose -p" in found[0], found


@pytest.mark.parametrize("listed", [
    ["shop-blue /etc/stackyard/shop/compose.blue.yml", "shop-green /etc/stackyard/shop/compose.green.yml"],
    ["shopping-blue /home/ops/docker-compose.yml", "other /x.yml"],  # other names are not the service's
    [],
    None,
])
def test_stackyards_own_projects_other_names_and_no_docker_pass(listed: list[str] | None, tmp_path: Path) -> None:
    assert preflight(tmp_path, listed) == []
