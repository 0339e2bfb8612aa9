"""Actions secrets through the real engine (the GitHub plugin played by its stand-in): a secret's name
respelled, its repository's capitals changed and its system renamed without `formerly`, all in one `up`,
create and delete no secret (each would have been a PUT of the secret, then a DELETE of the same one)."""

from __future__ import annotations

from helpers.workspace import errors

ACTIONS = "github:index/actionsSecret:ActionsSecret"


def system(repo: str, key: str) -> dict:
    return {"github": {"owner": "acme", "repositories": {repo: {"secrets": {key: {"secret": "deployToken"},
                                                                         "REGION": "eu-central"}}}}}


def test_a_respelled_secret_and_a_renamed_system_keep_every_actions_secret(workspace) -> None:
    ws = workspace(standins=True)
    ws.init("gh", config={"stackyard:systems": {"web": system("api", "deploy_token")}},
            secrets={"deployToken": "CANARY-gh-3c1d", "github:token": "CANARY-gh-token-77aa"})
    first = ws.up("gh")
    assert errors(first.json()) == []
    assert first.applied()["create"] >= {"github-acme-api-DEPLOY_TOKEN", "github-acme-api-REGION"}

    ws.set_config("gh", "systems", {"shop": system("API", "DEPLOY_TOKEN")})
    changed = ws.up("gh")
    assert errors(changed.json()) == []
    touched = {op: {n for n in names if n.startswith("github-acme-")} for op, names in changed.applied().items()}
    assert {op: names for op, names in touched.items() if names and op != "update"} == {}, changed.output
    assert errors(ws.destroy("gh").json()) == []
