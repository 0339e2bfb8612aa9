"""Renaming a system and its host of a running stack deletes nothing on the host.

The review: every step is named after its system and host, so a rename created each anew and deleted
the old ones last; those deletes stop the services and the databases. With `formerly`, each resource
keeps its state under the new name (an alias): `up` deletes nothing, and no service restarts. The
rename is then undone the same way.
"""

from __future__ import annotations

import yaml

from local import LocalStack

SERVICES = ("stackyard-fastapi-sample-*", "stackyard-flask-sample-pm2", "mariadb", "redis-server")


def pids(stack: LocalStack) -> dict[str, str]:
    """Each long-running service's main process. The watchdogs are oneshot services their timers start
    every few seconds: one caught mid-run is no restart (a run once saw one), so they are left out, and
    so are the timers the names match (they have no main process)."""
    blocks = stack.ssh("systemctl show -p Id -p MainPID " + " ".join(SERVICES)).stdout.split("\n\n")
    units = [dict(line.split("=", 1) for line in block.splitlines() if "=" in line) for block in blocks]
    return {unit["Id"]: unit["MainPID"] for unit in units
            if "MainPID" in unit and unit.get("Id", "").endswith(".service")
            and not unit["Id"].endswith("-watchdog.service")}


def rename(stack: LocalStack, system: tuple[str, str], host: tuple[str, str]) -> None:
    """Renames system old->new and its host old->new in the project's stack file, saying what they were."""
    path = stack.ws.stack_file("local")
    document = yaml.safe_load(path.read_text())
    systems = document["config"]["stackyard:systems"]
    spec = systems.pop(system[0])
    spec["formerly"] = [system[0]]
    spec["hosts"][host[1]] = spec["hosts"].pop(host[0])
    spec["hosts"][host[1]]["formerly"] = [host[0]]
    for service in spec["services"].values():
        service["host"] = host[1]
    systems[system[1]] = spec
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def test_a_renamed_system_and_host_keep_everything_on_the_host(stack: LocalStack) -> None:
    before = pids(stack)
    assert {"mariadb.service", "redis-server.service", "stackyard-flask-sample-pm2.service"} <= set(before), before
    assert any(unit.startswith("stackyard-fastapi-sample-blue@") or unit.startswith("stackyard-fastapi-sample-green@")
               for unit in before), before
    rename(stack, ("local", "yard"), ("box", "node"))
    renamed = stack.up()
    applied = renamed.applied()
    assert "delete" not in applied and "create" not in applied, applied
    # Only what says the names changes: the pre-flight's messages give the new paths.
    assert not {name for names in applied.values() for name in names
                if name.endswith(("-service", "-deploy")) or "accessory-" in name or "password" in name}
    assert pids(stack) == before  # nothing stopped, nothing restarted
    assert stack.health("fastapi.stackyard.test")[0] == 200 and stack.health("flask.stackyard.test")[0] == 200
    rename(stack, ("yard", "local"), ("node", "box"))
    back = stack.up()
    assert "delete" not in back.applied() and "create" not in back.applied(), back.applied()
    assert pids(stack) == before
    # The former names are kept as a record; they name nothing that still exists.
    stack.edit_system(lambda system: (system.pop("formerly"), system["hosts"]["box"].pop("formerly")))
    assert not {k: v for k, v in stack.up().applied().items() if k in ("delete", "create")}
