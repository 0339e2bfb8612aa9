"""Adoption under mocks: every resource the production stack adopts carries its import ID (in each
provider's own format) and the same inputs it would be created with; nothing else is adopted."""

from __future__ import annotations

import copy

import pytest
from helpers.harness import Run, canary_secrets, production_config, run_program, unwrap

ZONE_MEHKO = "e3b0c74af4dd938aa071e706ee9cf568"
ZONE_KAI = "846d8bba61bf3e2e89d1d4a8c7a4b966"
ACCOUNT = "1821bc96b1a7e2f3cbcf26060bd99ed7"
TEAM = "team_xxxxxxxxxxxxxxxx"
PROJECT = f"{TEAM}/prj_PLACEHOLDERmaterialkai0001"
"""Vercel's import IDs of a team's project: team/project (and team/project/env ID for variables)."""


@pytest.fixture(scope="module")
def production() -> Run:
    config = production_config()
    return run_program(config, canary_secrets(config))


def without_adoption(config: dict) -> dict:
    config = copy.deepcopy(config)
    config.pop("stackyard:adoptSshKeys", None)

    def strip(node):
        if isinstance(node, dict):
            node.pop("adopt", None)
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(config["stackyard:systems"])
    # A server stackyard creates gets the host key stackyard makes: the pinned one is the running server's.
    for system in config["stackyard:systems"].values():
        for host in system.get("hosts", {}).values():
            if host["provider"] != "existing":
                host.get("access", {}).pop("hostKey", None)
    return config


def test_each_adopted_resource_carries_its_providers_import_id(production: Run) -> None:
    adopted = {r.name: r.import_id for r in production.resources if r.import_id}
    env = {name: import_id for name, import_id in adopted.items() if name.startswith("material-kai-web-")
           and import_id.startswith(f"{PROJECT}/env")}
    assert len(env) == 12  # every Vercel variable of seed 004, by its own ID
    assert env["material-kai-web-VITE_DEBUG-preview"] == f"{PROJECT}/envPlaceholder0003"
    rest = {name: import_id for name, import_id in adopted.items() if name not in env}
    assert rest == {
        "hetzner-key-" + next(r.name for r in production.resources if r.type == "hcloud:index/sshKey:SshKey")[
            len("hetzner-key-"):]: "9100001",
        next(r.name for r in production.resources if r.type == "digitalocean:index/sshKey:SshKey"): "31000001",
        "mehko-api": "41200001",
        "mehko-api-ipv4": "55200001",
        "api.mehko.ai-a": f"{ZONE_MEHKO}/0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "mehko-web": f"{ACCOUNT}/mehko-ai",
        "mehko-web-mehko.ai": f"{ACCOUNT}/mehko-ai/mehko.ai",
        "mehko-web-www.mehko.ai": f"{ACCOUNT}/mehko-ai/www.mehko.ai",
        "mehko-web-mehko.ai-cname": f"{ZONE_MEHKO}/1a2b3c4d5e6f708192a3b4c5d6e7f801",
        "mehko-web-www.mehko.ai-cname": f"{ZONE_MEHKO}/1a2b3c4d5e6f708192a3b4c5d6e7f802",
        "material-kai-mivaa": "360000001",
        "v1api.materialshub.gr-a": f"{ZONE_KAI}/2b3c4d5e6f708192a3b4c5d6e7f80910",
        "material-kai-web": PROJECT,
    }


def test_what_is_adopted_is_described_exactly_as_what_would_be_created(production: Run) -> None:
    config = production_config()
    fresh = run_program(without_adoption(config), canary_secrets(config))
    created = {(r.type, r.name): r for r in fresh.resources}
    # Outputs of adopted resources (their IDs) flow into others; everything the stack itself says is equal.
    ids = {"serverIds", "dropletIds", "dropletId", "sshKeys", "publicNets", "projectId", "firewallId", "triggers"}
    # A new server gets the host key stackyard makes (in its user data, pinned by its connections); an adopted
    # one keeps its own, pinned from the stack file.
    ids |= {"userData", "connection"}
    for reg in production.resources:
        if reg.name.endswith("-VERCEL_PROJECT_ID"):
            continue  # an Actions secret holding the project's ID: the adopted one, or the one Vercel would give
        sent, would = unwrap(reg.wire), unwrap(created[reg.type, reg.name].wire)  # what the program sends
        if reg.type.endswith("ProjectEnvironmentVariable") and len(sent["targets"]) > 1:
            # A variable Vercel holds for several targets is imported whole; made afresh, it is one per target
            # (components/vercel_project.py): this one keeps its first target, the others come beside it.
            assert would["targets"] == sent["targets"][:1], reg.name
            would = {**would, "targets": sent["targets"]}
        assert {k: v for k, v in sent.items() if k not in ids} == {k: v for k, v in would.items()
                                                                    if k not in ids}, reg.name


def test_sensitive_variables_are_adopted_without_comparing_the_value_vercel_never_returns(production: Run) -> None:
    for reg in production.of_type("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"):
        assert reg.ignore_changes == (["value"] if reg.inputs["sensitive"] else []), reg.name


def test_each_adopted_sensitive_variable_warns_its_value_is_ignored_while_its_entry_stays(production: Run) -> None:
    """ignore_changes holds on every up, not on the import alone: a secret rotated while the entry stays
    would never reach Vercel. Each such entry says so, by its config path, on every run; once it is gone,
    nothing is said (and its value is compared and written again)."""
    path = "systems.material-kai.frontends.web.adopt.env."
    sensitive = {reg.inputs["key"] for reg in
                 production.of_type("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable")
                 if reg.inputs["sensitive"] and reg.import_id}
    assert len(sensitive) == 7
    warned = [line for line in production.logs if "neither compared nor written while this entry stays" in line]
    assert sorted(warned) == sorted(
        f"{path}{key}: an adopted sensitive variable: its value is neither compared nor written while this entry "
        "stays; remove the entry after the first up that imported it" for key in sensitive)
    config = copy.deepcopy(production_config())
    adopted = config["stackyard:systems"]["material-kai"]["frontends"]["web"]["adopt"]["env"]
    for key in sorted(sensitive)[:3]:
        del adopted[key]
    after = run_program(config, canary_secrets(config))
    assert {line.split(":")[0] for line in after.logs if "neither compared" in line} == {
        path + key for key in sorted(sensitive)[3:]}
    assert {reg.inputs["key"] for reg in
            after.of_type("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable")
            if reg.ignore_changes} == set(sorted(sensitive)[3:])


def test_nothing_is_adopted_without_its_id() -> None:
    config = production_config()
    run = run_program(without_adoption(config), canary_secrets(config))
    assert [r.name for r in run.resources if r.import_id] == []


def test_an_adopted_ssh_key_is_never_deleted_by_stackyard(production: Run) -> None:
    """A key ring is named after the secret holding its account's token: a system given a token of its own
    renames it, and one `up` imported the adopted key under the new name and deleted it under the old one,
    from the cloud (round 27). An adopted key is left in the cloud when it leaves the state."""
    keys = [r for r in production.resources if r.type.endswith("/sshKey:SshKey")]
    assert keys and all(r.import_id and r.retain_on_delete for r in keys)
    created = run_program(without_adoption(production_config()), canary_secrets(production_config()))
    assert not [r for r in created.resources if r.type.endswith("/sshKey:SshKey") and r.retain_on_delete]


def test_an_adopted_resource_is_never_deleted_by_stackyard(production: Run) -> None:
    """A frontend's key renamed, with `protect` off: the next `up` imported the live Vercel project, its
    variables and domains under the new names, then deleted them under the old ones, from Vercel (round
    28). Every resource taken in by its ID stays in the cloud when it leaves the state."""
    adopted = [r for r in production.resources if r.import_id]
    assert len(adopted) > 20
    assert all(r.retain_on_delete for r in adopted), [r.name for r in adopted if not r.retain_on_delete]



def test_an_adopted_resource_is_never_deleted_first_to_make_way_for_its_replacement(production: Run) -> None:
    """Kept (retain_on_delete) and deleted first (a Hetzner server, a Vercel variable): the engine marked the
    kept one pending replacement, the cloud refused the new one beside it, and every later `up` failed the
    same way, a reverted change included (round 29, with the real engine). Made first, the new one is
    refused with the state as it was."""
    adopted = [r for r in production.resources if r.import_id]
    assert not [r.name for r in adopted if r.delete_before_replace]
    created = run_program(without_adoption(production_config()), canary_secrets(production_config()))
    assert {r.name for r in created.resources if r.delete_before_replace} >= {"mehko-api"}
