"""Renames under mocks: a system or host renamed with `formerly` keeps every resource's state (aliases),
and a former name that could stand for two entries is refused, naming the state commands instead."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pulumi
import pytest
from helpers.harness import read_stack_file, run_program
from helpers.hostile import stack

from components.render.scripts import shell

SECRETS = {"localSshKey": "key", "localApiKey": "api", "localSessionSecret": "session"}


def renamed(system: str = "yard", host: str = "node", formerly: bool = True) -> dict:
    config = copy.deepcopy(stack("local"))
    local = config["stackyard:systems"].pop("local")
    local["hosts"][host] = local["hosts"].pop("box")
    for service in local["services"].values():
        service["host"] = host
    if formerly:
        local["formerly"] = ["local"]
        local["hosts"][host]["formerly"] = ["box"]
    config["stackyard:systems"][system] = local
    return config


def test_every_resource_of_a_renamed_system_and_host_is_known_by_its_former_name() -> None:
    old = run_program(stack("local"), SECRETS).resources
    before = {r.name for r in old}
    after = run_program(renamed(), SECRETS)
    for reg in after.resources:
        if reg.name.startswith("yard"):
            # the name it had: the state under it follows the resource, so nothing is created or deleted
            assert set(reg.aliases) & before, reg.name
    assert len([r for r in after.resources if r.name.startswith("yard")]) == len(old)
    # Its claim on the host moves to the new name, from each name it had: its own, and no other resource's.
    claim = after.named("yard-node-setup-fastapi-sample-service").inputs
    assert claim["update"] == ("/usr/local/sbin/stackyard-claim move service fastapi-sample "
                               "yard-node-setup-fastapi-sample-service yard-box-setup-fastapi-sample-service "
                               "local-node-setup-fastapi-sample-service local-box-setup-fastapi-sample-service")


def claim_commands(config: dict, name: str) -> dict[str, str]:
    """The create, update and delete of a service's claim, as the program registers them."""
    inputs = run_program(config, SECRETS).named(name).inputs
    return {what: inputs[what] for what in ("create", "update", "delete")}


def on_host(tmp_path: Path, command: str) -> None:
    """Runs a claim's command as the host would: the real stackyard-claim, and a removal that leaves a mark."""
    helper = tmp_path / "stackyard-claim"
    helper.write_text(shell("claim.sh"))
    command = command.replace("/usr/local/sbin/stackyard-claim", f"bash {helper}").replace(
        "/srv/fastapi-sample/remove", f"touch {tmp_path}/removed")
    subprocess.run(["bash", "-c", command], env={"STACKYARD_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"},
                   check=True, capture_output=True)


OLD, NEW = "local-box-setup-fastapi-sample-service", "yard-node-setup-fastapi-sample-service"


def test_formerly_added_after_a_rename_was_cut_short_stops_nothing(tmp_path: Path) -> None:
    """A rename without formerly, cut short after the new name's claim was made (the old one is still in
    the state: deletes come last); then formerly is added. Pulumi finds the new resource under its own
    name and updates it (its inputs changed), then deletes the old one, whose release must find the new
    claim still holding: before, the new claim took the old one's name and its update cleared the rest."""
    old = claim_commands(stack("local"), OLD)
    on_host(tmp_path, old["create"])
    on_host(tmp_path, claim_commands(renamed(formerly=False), NEW)["create"])
    new = claim_commands(renamed(), NEW)
    on_host(tmp_path, new["update"])
    on_host(tmp_path, old["delete"])
    assert not (tmp_path / "removed").exists(), "the old name's delete removed the service the new name holds"
    # Nothing stale is left holding it either: the service's own removal, later, removes it.
    on_host(tmp_path, new["delete"])
    assert (tmp_path / "removed").exists()


def test_a_rename_with_formerly_moves_the_claim_and_leaves_none_stale(tmp_path: Path) -> None:
    on_host(tmp_path, claim_commands(stack("local"), OLD)["create"])
    new = claim_commands(renamed(), NEW)
    on_host(tmp_path, new["update"])  # the alias: the same resource, its inputs changed
    # formerly dropped once the rename is done: another update, then the service removed
    done = claim_commands(renamed(formerly=False), NEW)
    on_host(tmp_path, done["update"])
    on_host(tmp_path, done["delete"])
    assert (tmp_path / "removed").exists(), "a stale claim kept a removed service running"


def test_without_formerly_a_rename_keeps_no_state_but_the_claims_keep_what_serves() -> None:
    after = run_program(renamed(formerly=False), SECRETS)
    assert all(not reg.aliases for reg in after.resources)
    service = after.named("yard-node-setup-fastapi-sample-service")
    # The old name's resource is deleted after this one exists: its release leaves this one's claim.
    assert service.inputs["delete"] == ("/usr/local/sbin/stackyard-claim release service fastapi-sample "
                                        "yard-node-setup-fastapi-sample-service /srv/fastapi-sample/remove")


@pytest.mark.parametrize("where", ["system", "host"])
def test_a_former_name_still_in_use_is_refused_naming_the_state_commands(where: str) -> None:
    config = renamed()
    yard = config["stackyard:systems"]["yard"]
    if where == "system":
        config["stackyard:systems"]["local"] = copy.deepcopy(read_stack_file_local())
        path = "systems.yard.formerly[0]"
    else:
        yard["hosts"]["box"] = copy.deepcopy(yard["hosts"]["node"])
        yard["hosts"]["box"].pop("formerly")
        yard["hosts"]["box"]["address"] = "10.213.0.3"
        path = "systems.yard.hosts.node.formerly[0]"
    with pytest.raises(pulumi.RunError, match=rf"{path.replace('[', '.').replace(']', '.')}.*pulumi state rename"):
        run_program(config, SECRETS)


def read_stack_file_local() -> dict:
    from helpers.hostile import STACKS

    local = read_stack_file(STACKS["local"])["stackyard:systems"]["local"]
    local["hosts"]["box"]["address"] = "10.213.0.4"
    return local


def test_a_host_whose_name_starts_with_another_hosts_takes_no_alias_of_that_host() -> None:
    """web was api; web-2 and api-2 were never renamed. web-2's resources start with "shop-web-" too, and
    were given api's former names before: the names of api-2's live resources."""
    from types import SimpleNamespace

    from components.renames import former_names

    host = SimpleNamespace
    shop = SimpleNamespace(formerly=(), hosts={"web": host(formerly=("api",)), "web-2": host(formerly=()),
                                               "api-2": host(formerly=())})
    assert former_names("shop-web-2-setup-base", shop, "shop") == []
    assert former_names("shop-web-setup-base", shop, "shop") == ["shop-api-setup-base"]
    assert former_names("shop-web", shop, "shop") == ["shop-api"]
