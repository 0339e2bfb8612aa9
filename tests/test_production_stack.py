"""The production stack as a whole: what each seed system registers, and that no secret leaks."""

from __future__ import annotations

import json

import pytest
from helpers.harness import (
    CANARY,
    Run,
    canary_secrets,
    find_plaintext,
    production_config,
    referenced_secrets,
    run_program,
    unwrap,
)


@pytest.fixture(scope="module")
def production() -> Run:
    config = production_config()
    return run_program(config, canary_secrets(config))


def cloud(counts: dict[str, int]) -> dict[str, int]:
    """The counts without stackyard's own component resources."""
    return {kind: n for kind, n in counts.items() if not kind.startswith("stackyard:")}


def test_mehko_hetzner_host_caddy_ports_dns_and_pages(production: Run) -> None:
    assert cloud(production.counts("mehko")) == {
        "cloudflare:index/dnsRecord:DnsRecord": 3,  # api A, plus the Pages CNAMEs for mehko.ai and www
        "cloudflare:index/pagesDomain:PagesDomain": 2,
        "cloudflare:index/pagesProject:PagesProject": 1,
        "hcloud:index/firewall:Firewall": 1,
        "hcloud:index/firewallAttachment:FirewallAttachment": 1,
        "hcloud:index/primaryIp:PrimaryIp": 1,
        "hcloud:index/server:Server": 1,
        # preflight, base, runtimes, proxy, certificates, and per service: user, env file, setup, its place
        # (removal), deploy; plus the worker's key file
        "command:remote:Command": 5 + 3 * 5 + 1,
    }


def test_productivity_adopts_its_server_without_creating_one(production: Run) -> None:
    assert cloud(production.counts("productivity")) == {
        # preflight, base, runtimes, 2 password files (the existing servers' own: none generated),
        # accessories, their 2 places (held, with nothing to stop: the servers are not stackyard's), proxy,
        # certificates, backups; per service user, env, setup, place, deploy
        "command:remote:Command": 11 + 2 * 5,
    }
    assert production.counts("productivity")["stackyard:index:VpsHost"] == 1


def test_material_kai_droplet_dns_vercel_and_actions_secrets(production: Run) -> None:
    assert cloud(production.counts("material-kai")) == {
        "cloudflare:index/dnsRecord:DnsRecord": 2,  # v1api A and AAAA
        "digitalocean:index/droplet:Droplet": 1,
        "digitalocean:index/firewall:Firewall": 1,
        "digitalocean:index/reservedIp:ReservedIp": 1,
        "github:index/actionsSecret:ActionsSecret": 18,
        "pulumi:providers:github": 1,
        "vercel:index/project:Project": 1,
        "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable": 12,
        # preflight, base, runtimes, proxy, certificates, backups and its 3 off-site secret files; mivaa user,
        # env, setup, place, deploy
        "command:remote:Command": 6 + 3 + 5,
        # seed 004's Supabase setup: auth settings, edge secrets, 3 extensions, RLS on 2 tables, 1 policy
        "pulumi-python:dynamic/supabase:Settings": 1,
        "pulumi-python:dynamic/supabase:EdgeSecrets": 1,
        "pulumi-python:dynamic/supabase:Extension": 3,
        "pulumi-python:dynamic/supabase:RowLevelSecurity": 2,
        "pulumi-python:dynamic/supabase:Policy": 1,
    }


def test_shared_ssh_keys_sit_outside_the_systems(production: Run) -> None:
    outside = sorted(r.type for r in production.resources if production.system_of(r) is None)
    assert outside == ["digitalocean:index/sshKey:SshKey", "hcloud:index/sshKey:SshKey",
                       "stackyard:index:SshKeyring", "stackyard:index:SshKeyring"]


def test_no_secret_appears_outside_secret_wrapping_in_any_input(production: Run) -> None:
    secrets = canary_secrets(production_config())
    assert len(secrets) >= 15
    leaks = {}
    for reg in production.resources:
        for value in secrets.values():
            hits = find_plaintext(reg.wire, value)
            if hits:
                leaks[f"{reg.type} {reg.name}"] = hits
        assert CANARY not in reg.name
    assert leaks == {}
    # ... and the canaries did reach the resources, wrapped: the check above is not vacuous.
    wrapped = [reg for reg in production.resources if CANARY in json.dumps(reg.wire)]
    assert len(wrapped) >= 20


def test_no_secret_appears_in_stack_outputs_or_logs(production: Run) -> None:
    assert production.outputs, "the program registered no outputs"
    for outputs in production.outputs:
        assert find_plaintext(outputs, CANARY) == []
    assert all(CANARY not in line for line in production.logs)


def test_secrets_in_browser_bundled_variables_are_warned_about(production: Run) -> None:
    warned = [line for line in production.logs if "public browser bundle" in line]
    assert "systems.material-kai.frontends.web.env.production.VITE_OPENAI_API_KEY: secret 'openaiApiKey'" in "\n".join(
        warned)
    assert not any("SUPABASE_SERVICE_ROLE_KEY" in line for line in warned)


def test_every_secret_the_stack_references_is_listed_in_the_operating_doc() -> None:
    import re

    from helpers.harness import ROOT

    readme = (ROOT / "docs" / "operating.md").read_text()
    for name in referenced_secrets(production_config()):
        assert re.search(rf"^pulumi config set --secret stackyard:{name}\b", readme, re.M), name


def test_stack_file_reference_matches_the_model() -> None:
    from helpers.harness import ROOT

    from components.model.reference import reference

    assert reference() in (ROOT / "docs" / "stack-file-reference.md").read_text(), (
        "run: venv/bin/python -m components.model.reference, and put its output in docs/stack-file-reference.md")


def test_every_class_of_the_model_has_its_section_in_the_reference() -> None:
    import dataclasses

    from components.model import topology
    from components.model.reference import SECTIONS

    documented = {cls for _, cls in SECTIONS}
    model = {cls for cls in vars(topology).values()
             if dataclasses.is_dataclass(cls) and cls.__module__ == topology.__name__}
    # Topology is the parsed whole (Settings is its stackyard: namespace), not a stack file key.
    assert model - documented - {topology.Topology} == set()


def test_a_stack_without_cloud_resources_imports_no_provider_sdk() -> None:
    import subprocess
    import sys

    from helpers.harness import ROOT

    code = """
import sys
sys.path[:0] = ['.', 'tests']
from helpers.harness import production_config, run_program, canary_secrets
config = production_config()
productivity = config['stackyard:systems']['productivity']
productivity['hosts']['app']['provision'] = False
for key in ('accessories', 'proxy', 'backups'):
    productivity['hosts']['app'].pop(key, None)
config['stackyard:systems'] = {'productivity': {'hosts': productivity['hosts']}}
run_program(config, canary_secrets(config))
print(sorted(m for m in sys.modules if m.startswith(('pulumi_', 'pulumiverse_'))))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_every_secret_the_stack_references_is_encrypted_in_the_stack_file() -> None:
    import yaml
    from helpers.harness import ROOT

    document = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    config = document["config"]
    assert document["encryptionsalt"].startswith("v1:")  # the passphrase provider's salt
    keys = [f"stackyard:{name}" for name in sorted(referenced_secrets(config))]
    keys += ["hcloud:token", "digitalocean:token", "cloudflare:apiToken", "vercel:apiToken", "github:token"]
    for key in keys:
        value = config.get(key)
        assert isinstance(value, dict) and set(value) == {"secure"}, f"{key}: not a secure: value"
        assert value["secure"].startswith("v1:"), key


def test_stack_outputs_hold_what_operators_look_up_and_no_secret(production: Run) -> None:
    systems = unwrap(production.stack_outputs)["systems"]
    assert systems["mehko"]["frontends"]["web"] == {"url": "https://mehko-ai.pages.dev",
                                                    "domains": ["https://mehko.ai", "https://www.mehko.ai"]}
    vercel = systems["material-kai"]["frontends"]["web"]
    assert vercel["url"] == "https://material-kai-vision-platform.vercel.app" and vercel["projectId"]
    assert systems["mehko"]["apis"] == ["https://api.mehko.ai"]
    assert systems["productivity"]["hosts"]["app"]["ssh"] == "ssh root@203.0.113.10"
    mivaa = systems["material-kai"]["hosts"]["mivaa"]
    assert mivaa["ssh"] == f"ssh deploy@{mivaa['ipv4']}"
    assert systems["material-kai"]["supabase"] == {"url": "https://yourprojectrefxxxxxx.supabase.co"}
    assert set(systems["productivity"]["services"]) == {"flask-backend", "podfactory-sync"}
    assert find_plaintext(production.stack_outputs, CANARY) == []
    assert CANARY not in json.dumps(production.stack_outputs)  # not even wrapped: outputs hold no secret


def test_live_frontends_and_dns_are_protected_as_servers_are(production: Run) -> None:
    kept = ("cloudflare:index/pagesProject:PagesProject", "vercel:index/project:Project",
            "cloudflare:index/dnsRecord:DnsRecord")
    assert all(r.protect for r in production.resources if r.type in kept)
    assert sum(r.type in kept for r in production.resources) == 2 + 5
    # what changes with the app stays removable: env vars, domains' attachments, Actions secrets, commands
    loose = ("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
             "github:index/actionsSecret:ActionsSecret", "command:remote:Command")
    assert not any(r.protect for r in production.resources if r.type in loose)
    unprotected = run_program({**production_config(), "stackyard:protect": False},
                              canary_secrets(production_config()))
    assert not any(r.protect for r in unprotected.resources if r.type in kept)


def test_a_hetzner_server_goes_before_its_replacement_comes() -> None:
    # Hetzner server names are unique in a project: create-before-delete would fail on the name. (What the
    # production stack adopts is never deleted, first or at all: test_adoption.py. Here, as created.)
    from test_adoption import without_adoption

    config = production_config()
    created = run_program(without_adoption(config), canary_secrets(config))
    assert created.named("mehko-api", "hcloud:index/server:Server").delete_before_replace
    assert not created.named("material-kai-mivaa", "digitalocean:index/droplet:Droplet").delete_before_replace
    # Vercel refuses a second variable of one key and target: a variable replaced (plain text <-> secret)
    # must go before its replacement comes, or every `up` after it fails (the sixteenth review).
    variables = [r for r in created.resources
                 if r.type == "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"]
    assert variables and all(r.delete_before_replace for r in variables)
