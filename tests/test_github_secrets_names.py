"""An Actions secret is named as GitHub knows it: owner, repository and secret name without case, and not
after the system. A respelling (deploy_token as DEPLOY_TOKEN, a repository's capitals) or a system renamed
without `formerly` gave the same secret a new resource: created (a PUT over the secret), then the old one
deleted (a DELETE of the same secret), and every workflow using it failed (the fifteenth review)."""

from __future__ import annotations

import copy

import pytest
from helpers.harness import canary_secrets, production_config, run_program
from helpers.stack_mistakes import refusal

ACTIONS = "github:index/actionsSecret:ActionsSecret"


def secrets_of(config: dict) -> dict[str, str]:
    run = run_program(config, canary_secrets(production_config()))
    return {r.urn.rsplit("::", 1)[1]: r.inputs["secretName"] for r in run.resources if r.type == ACTIONS}


def github(config: dict, system: str = "material-kai") -> dict:
    return config["stackyard:systems"][system]["github"]


def respelled(config: dict) -> None:
    repos = github(config)["repositories"]
    repos["Mivaa-PDF-Extractor"] = repos.pop("mivaa-pdf-extractor")
    secrets = repos["Mivaa-PDF-Extractor"]["secrets"]
    secrets["ssh_user"] = secrets.pop("SSH_USER")


def renamed(config: dict) -> None:
    systems = config["stackyard:systems"]
    systems["kai"] = systems.pop("material-kai")


@pytest.mark.parametrize("change", [respelled, renamed], ids=["respelled", "system renamed without formerly"])
def test_the_same_secret_keeps_its_resource(change) -> None:
    before = secrets_of(production_config())
    config = copy.deepcopy(production_config())
    change(config)
    after = secrets_of(config)
    assert set(after) == set(before)
    assert "github-creativeghq-mivaa-pdf-extractor-SSH_USER" in after


def test_a_respelled_name_changes_nothing_github_would_see() -> None:
    run = run_program(production_config(), canary_secrets(production_config()))
    for reg in run.resources:
        if reg.type == ACTIONS:
            assert {"secretName", "repository"} <= set(reg.ignore_changes), reg.name


@pytest.mark.parametrize("where,change", [
    ("systems.material-kai.github.repositories.mivaa-pdf-extractor.secrets.ssh_user",
     lambda c: github(c)["repositories"]["mivaa-pdf-extractor"]["secrets"].update(ssh_user="deploy")),
    ("systems.material-kai.github.repositories.MIVAA-pdf-extractor",
     lambda c: github(c)["repositories"].update({"MIVAA-pdf-extractor": {"secrets": {"OTHER": "x"}}})),
])
def test_two_spellings_of_one_name_are_refused(where: str, change) -> None:
    assert "GitHub ignores case" in (refusal(change, where) or ""), refusal(change, where)
