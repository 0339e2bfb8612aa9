"""Renaming a system and its host of a running stack deletes nothing on the host; renaming a service
moves its hostname to the new one without a failed request.

The review: every step is named after its system and host, so a rename created each anew and deleted
the old ones last; those deletes stop the services and the databases. With `formerly`, each resource
keeps its state under the new name (an alias): `up` deletes nothing, and no service restarts. The
rename is then undone the same way.
"""

from __future__ import annotations

import time

import yaml

from load import Load
from local import FIGURES, LocalStack

SERVICES = ("stackyard-fastapi-sample-*", "stackyard-flask-sample-pm2@*", "mariadb", "redis-server")


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
    assert {"mariadb.service", "redis-server.service", stack.serving_pm2("flask-sample")} <= set(before), before
    assert any(unit.startswith("stackyard-fastapi-sample-blue@") or unit.startswith("stackyard-fastapi-sample-green@")
               for unit in before), before
    rename(stack, ("local", "yard"), ("box", "node"))
    renamed = stack.up()
    applied = renamed.applied()
    assert "delete" not in applied and "create" not in applied, applied
    # Only what says the names changes: the pre-flight's messages give the new paths, and each claim on the
    # host moves to the new name (stackyard-claim move: nothing stops, nothing is removed).
    assert not {name for names in applied.values() for name in names
                if name.endswith("-deploy") or "password" in name
                or ("accessory-" in name and not name.startswith("yard-node-setup-accessory-"))}
    assert pids(stack) == before  # nothing stopped, nothing restarted
    assert stack.health("fastapi.stackyard.test")[0] == 200 and stack.health("flask.stackyard.test")[0] == 200
    rename(stack, ("yard", "local"), ("node", "box"))
    back = stack.up()
    assert "delete" not in back.applied() and "create" not in back.applied(), back.applied()
    assert pids(stack) == before
    # The former names are kept as a record; they name nothing that still exists.
    stack.edit_system(lambda system: (system.pop("formerly"), system["hosts"]["box"].pop("formerly")))
    assert not {k: v for k, v in stack.up().applied().items() if k in ("delete", "create")}


def rename_service(stack: LocalStack, old: str, new: str, port: int) -> None:
    """The service's entry under a new name and port (its old slots run until its removal, so the new
    ones need ports of their own), the same hostname."""
    def change(system: dict) -> None:
        spec = system["services"].pop(old)
        spec["port"] = port
        system["services"][new] = spec

    stack.edit_system(change)


def test_a_renamed_service_s_hostname_is_served_throughout(stack: LocalStack) -> None:
    """The proxy step runs before the new service's first deploy: its new upstream starts as the old
    service's (provision.take_over), and the old one goes only once the new one serves. The review found
    the hostname routed to the new service's empty slots from the proxy step until its deploy ended."""
    hostname = "fastapi.stackyard.test"
    for old, new, port in (("fastapi-sample", "fastapi-app", 8200), ("fastapi-app", "fastapi-sample", 8000)):
        rename_service(stack, old, new, port)
        with Load(hostname, 20.0) as load:
            time.sleep(2)
            started = time.monotonic()
            result = stack.up()
            seconds = time.monotonic() - started
            time.sleep(2)
        FIGURES.append(f"service {old} renamed {new} (pulumi up, {seconds:.1f} s) under 20 req/s: "
                       f"{load.tally.summary()}")
        assert load.tally.failed == 0, load.tally.summary()
        assert f"local-box-setup-{old}-service" in result.applied().get("delete", set()), result.applied()
        assert stack.ssh(f"cat /srv/{new}/active").returncode == 0
        running = stack.ssh(f"systemctl list-units --state=active --plain --no-legend 'stackyard-{old}-*'").stdout
        assert running.strip() == "", running
        assert stack.health(hostname)[0] == 200
