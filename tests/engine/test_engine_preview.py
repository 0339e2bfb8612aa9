"""`pulumi preview` of whole stacks by the real engine: the production stack (cloud resources through the
stand-in plugins) and a stack of existing hosts only (nothing but the real command and random plugins)."""

from __future__ import annotations

import copy

from harness import canary_secrets, production_config, run_program
from workspace import ROOT, counts_by_type, errors

PRODUCTION = ROOT / "Pulumi.production.yaml"


def test_production_stack_previews_with_no_error_and_the_resources_the_mocks_register(workspace) -> None:
    ws = workspace(standins=True)
    ws.init("production", copy_from=PRODUCTION)
    result = ws.preview("production")
    events = result.json()

    assert errors(events) == []
    engine = counts_by_type(events)
    assert engine.pop("pulumi:pulumi:Stack") == 1
    config = production_config()
    assert engine == run_program(config, canary_secrets(config)).counts()
    assert sum(engine.values()) == 113
    assert engine["command:remote:Command"] == 39
    assert engine["random:index/randomPassword:RandomPassword"] == 2
    assert engine["pulumi-python:dynamic/supabase:Extension"] == 3
    # Every stand-in says what it is, in the run's own output.
    banners = [d["message"] for d in events["diagnostics"] if "stand-in plugin pulumi-resource-" in d["message"]]
    assert {b.split()[3] for b in banners} == {f"pulumi-resource-{n}" for n in
                                               ("hcloud", "digitalocean", "cloudflare", "vercel", "github")}


def test_a_stack_of_existing_hosts_previews_with_only_the_real_plugins(workspace) -> None:
    ws = workspace(standins=False)  # no stand-in on PATH: a cloud resource would fail for want of its plugin
    config = copy.deepcopy(production_config())
    systems = config["stackyard:systems"]
    config = {"stackyard:systems": {"productivity": systems["productivity"]}}
    ws.init("existing", config=config, secrets={"productivitySshKey": "PLACEHOLDER-key"})
    events = ws.preview("existing").json()

    assert errors(events) == []
    assert counts_by_type(events) == {
        "command:remote:Command": 15,
        "pulumi:pulumi:Stack": 1,
        "random:index/randomPassword:RandomPassword": 2,
        "stackyard:index:HostProvisioning": 1,
        "stackyard:index:System": 1,
        "stackyard:index:VpsHost": 1,
    }
    assert not any("stand-in" in d["message"] for d in events["diagnostics"])
