"""`pulumi preview` of whole stacks by the real engine: the production stack (cloud resources through the
stand-in plugins) and a stack of existing hosts only (nothing but the real command and random plugins)."""

from __future__ import annotations

import copy

from helpers.harness import canary_secrets, production_config, read_stack_file, run_program
from helpers.workspace import ROOT, counts_by_type, errors

from standin.seed import seed_stack, shown_secrets

PRODUCTION = ROOT / "Pulumi.production.yaml"
PRODUCTIVITY_SECRETS = {name: f"PLACEHOLDER-{name}" for name in
                        ("productivitySshKey", "productivityMysqlPassword", "productivityRedisPassword")}
"""The secrets the productivity system alone references (its login key, its servers' passwords)."""


def seeded_cloud(ws, stack: str) -> dict[str, str]:
    """Puts what the stack adopts into the stand-ins' cloud, as its stack file describes it, with the
    stack's own decrypted values; returns the secrets."""
    shown = ws.run("config", "--show-secrets", "--json", "--stack", stack).json()
    secrets = shown_secrets(shown)
    seed_stack(read_stack_file(ws.stack_file(stack)), secrets, ws.cloud)
    return secrets


def test_production_stack_previews_with_no_error_and_the_resources_the_mocks_register(workspace) -> None:
    ws = workspace(standins=True)
    ws.init("production", copy_from=PRODUCTION)
    seeded_cloud(ws, "production")
    result = ws.preview("production")
    events = result.json()

    assert errors(events) == []
    created, imported = counts_by_type(events), counts_by_type(events, "import")
    assert created.pop("pulumi:pulumi:Stack") == 1
    engine = {kind: created.get(kind, 0) + imported.get(kind, 0) for kind in created.keys() | imported.keys()}
    config = production_config()
    assert engine == run_program(config, canary_secrets(config)).counts()
    assert sum(engine.values()) == 130
    # What the seeds already run is taken over, never created beside itself (stackyard:adopt...).
    assert sum(imported.values()) == 25
    assert imported["vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"] == 12
    assert imported["cloudflare:index/dnsRecord:DnsRecord"] == 4 and imported["hcloud:index/server:Server"] == 1
    assert engine["command:remote:Command"] == 56  # a certificates step per host with a proxy on ACME
    assert "random:index/randomPassword:RandomPassword" not in engine  # the taken-over servers' own passwords
    assert engine["pulumi-python:dynamic/supabase:Extension"] == 3
    # The stand-ins say what they are, in the run's own output: once for the run, naming each.
    banners = [d["message"] for d in events["diagnostics"] if "stand-in plugins for" in d["message"]]
    assert len(banners) == 1, banners
    for name in ("hcloud", "digitalocean", "cloudflare", "vercel", "github"):
        assert f"{name} (" in banners[0], banners[0]


def test_a_stack_of_existing_hosts_previews_with_only_the_real_plugins(workspace) -> None:
    ws = workspace(standins=False)  # no stand-in on PATH: a cloud resource would fail for want of its plugin
    config = copy.deepcopy(production_config())
    systems = config["stackyard:systems"]
    config = {"stackyard:systems": {"productivity": systems["productivity"]}}
    ws.init("existing", config=config, secrets=PRODUCTIVITY_SECRETS)
    events = ws.preview("existing").json()

    assert errors(events) == []
    assert counts_by_type(events) == {
        "command:remote:Command": 21,
        "pulumi:pulumi:Stack": 1,
        "stackyard:index:HostProvisioning": 1,
        "stackyard:index:System": 1,
        "stackyard:index:VpsHost": 1,
    }
    assert not any("stand-in" in d["message"] for d in events["diagnostics"])


def cloud_only(config: dict) -> dict:
    """The production stack with nothing that needs a live server or the Supabase API: hosts are not
    provisioned over SSH and Supabase is left out, so `up` can run whole through the stand-ins."""
    config = copy.deepcopy(config)
    for system in config["stackyard:systems"].values():
        system.pop("services", None)
        system.pop("supabase", None)
        for host in system.get("hosts", {}).values():
            host["provision"] = False
            for key in ("proxy", "accessories", "backups"):
                host.pop(key, None)
    return config


def test_production_cloud_resources_apply_then_reapply_with_nothing_to_do(workspace) -> None:
    import yaml

    ws = workspace(standins=True)
    document = yaml.safe_load(PRODUCTION.read_text())
    secrets = canary_secrets(document["config"])
    secrets["hcloud:token"] = "CANARY-7f3a9c-do-not-leak-hcloud".ljust(64, "x")
    for key in ("digitalocean:token", "cloudflare:apiToken", "vercel:apiToken"):
        secrets[key] = f"CANARY-7f3a9c-do-not-leak-{key}"
    config = {k: v for k, v in cloud_only(document["config"]).items() if not isinstance(v, dict) or "secure" not in v}
    ws.stack_file("cloud").write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    ws.run("stack", "init", "cloud", "--secrets-provider", "passphrase")
    ws.run("config", "set-all", "--stack", "cloud",
           *[arg for key, value in secrets.items()
             for arg in ("--secret", f"{key if ':' in key else 'stackyard:' + key}={value}")])
    seeded_cloud(ws, "cloud")  # what the seeds run already, found by the stand-ins as a cloud would
    printed = []

    preview = ws.preview("cloud")
    printed.append(preview.output)
    up = ws.up("cloud")
    printed.append(up.output)
    changes = up.summary()["resourceChanges"]
    assert changes["create"] == sum(counts_by_type(preview.json()).values())
    assert changes["import"] == 25
    outputs = ws.run("stack", "output", "--stack", "cloud", "--json").json()["systems"]  # offline, from state
    api = outputs["mehko"]["hosts"]["api"]
    assert api["ipv4"].startswith("198.51.100.") and api["ssh"] == f"ssh deploy@{api['ipv4']}"
    assert outputs["material-kai"]["hosts"]["mivaa"]["ipv4"].startswith("198.51.100.")  # the Reserved IP
    assert outputs["material-kai"]["frontends"]["web"]["projectId"].startswith("prj_")  # from the stand-in
    assert outputs["mehko"]["frontends"]["web"]["url"] == "https://mehko-ai.pages.dev"
    again = ws.up("cloud")
    printed.append(again.output)
    assert again.applied() == {}

    state = ws.backend_text()
    assert "CANARY-7f3a9c" not in state
    assert all("CANARY-7f3a9c" not in text for text in printed)
    # the secrets did reach the resources: encrypted in the state, not absent
    exported = ws.run("stack", "export", "--stack", "cloud", "--show-secrets").stdout
    assert exported.count("CANARY-7f3a9c") >= 30
