"""Vercel variables through the real engine (Vercel played by its stand-in, which refuses a second variable
of a key on a target as Vercel does): values of a key made equal across targets, then apart again, then a
target dropped, each in one `up` that succeeds, with the cloud holding exactly the stack's variables after.

Variables grouped by value regrouped on such a change: the engine updated the widened variable before it
deleted the other, Vercel refused, and every later `up` failed the same way."""

from __future__ import annotations

import json

from helpers.workspace import errors

from standin.values import plain

STEPS = [
    {"production": "https://api.example.com", "preview": "https://staging.example.com"},
    {"production": "https://api.example.com", "preview": "https://api.example.com"},
    {"production": "https://api.example.com", "preview": "https://api.example.com",
     "development": "https://api.example.com"},
    {"production": "https://api.example.com", "preview": "https://staging.example.com",
     "development": "https://api.example.com"},
    {"production": "https://api.example.com"},
]


def system(values: dict[str, str]) -> dict:
    return {"web": {"frontends": {"site": {
        "kind": "vercel", "project": "site", "framework": "vite",
        "env": {target: {"API_URL": value} for target, value in values.items()}}}}}


def held(ws) -> dict[str, str]:
    """target -> value of the API_URL variables the stand-in's Vercel holds."""
    out: dict[str, str] = {}
    for path in (ws.cloud / "vercel").rglob("*.json"):
        if "ProjectEnvironmentVariable" in str(path.parent):
            inputs = plain(json.loads(path.read_text())["inputs"])
            for target in inputs["targets"]:
                assert target not in out, f"two variables of API_URL on {target}"
                out[target] = inputs["value"]
    return out


def test_values_that_meet_and_part_across_targets_apply_in_one_up_each(workspace) -> None:
    ws = workspace(standins=True)
    ws.init("v", config={"stackyard:systems": system(STEPS[0]), "stackyard:protect": False},
            secrets={"vercel:apiToken": "CANARY-vercel-5e1f"})
    assert errors(ws.up("v").json()) == []
    assert held(ws) == STEPS[0]
    for values in STEPS[1:]:
        ws.set_config("v", "systems", system(values))
        done = ws.up("v", check=False)
        assert done.returncode == 0 and errors(done.json()) == [], [
            line[:400] for line in done.output.splitlines() if '"severity":"error"' in line]
        assert held(ws) == values
    assert errors(ws.destroy("v").json()) == []
