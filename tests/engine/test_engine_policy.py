"""The policy pack (policy/) through the real `pulumi preview --policy-pack`: the production stack passes
with the advisories it documents, and a stack that breaks a mandatory guardrail fails its preview with
the guardrail's name and message."""

from __future__ import annotations

import copy

import pytest
import yaml
from helpers.workspace import ROOT, Workspace
from test_engine_preview import PRODUCTIVITY_SECRETS, seeded_cloud

PRODUCTION = ROOT / "Pulumi.production.yaml"
PACK = str(ROOT / "policy")
REFUSED = ROOT / "tests" / "engine" / "programs" / "refused"


def preview(ws: Workspace, stack: str) -> tuple[int, str]:
    result = ws.run("preview", "--stack", stack, "--policy-pack", PACK, check=False)
    return result.returncode, result.output


def production_with(ws: Workspace, change) -> tuple[int, str]:
    document = yaml.safe_load(PRODUCTION.read_text())
    config = copy.deepcopy(document["config"])
    change(config)
    ws.stack_file("production").write_text(yaml.safe_dump({**document, "config": config}, sort_keys=False))
    return preview(ws, "production")


@pytest.fixture(scope="module")
def production(pulumi_bin, tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("policy"), pulumi_bin, standins=True)
    ws.init("production", copy_from=PRODUCTION)
    seeded_cloud(ws, "production")
    return ws


def test_the_production_stack_passes_with_its_documented_advisories(production: Workspace) -> None:
    code, output = preview(production, "production")
    assert code == 0, output
    assert "mandatory" not in output
    advisories = [line for line in output.splitlines() if "[advisory]" in line]
    assert len(advisories) == 2 and all("ssh-open-to-the-world" in line for line in advisories), advisories
    assert "mehko-api-firewall lets anyone reach SSH" in output
    assert "material-kai-mivaa-firewall lets anyone reach SSH" in output


def test_a_secret_in_a_browser_variable_without_its_waiver_fails_the_preview(production: Workspace) -> None:
    code, output = production_with(
        production, lambda c: c["stackyard:systems"]["material-kai"]["frontends"]["web"].pop("publicSecrets"))
    assert code != 0
    assert "[mandatory]  no-secret-in-browser-bundle" in output
    assert "VITE_OPENAI_API_KEY is a secret in a browser-bundled variable" in output


def test_unprotected_servers_fail_the_preview(production: Workspace) -> None:
    code, output = production_with(production, lambda c: c.update({"stackyard:protect": False}))
    assert code != 0
    assert "[mandatory]  servers-and-kept-ips-protected" in output
    assert "Server mehko-api is not protected" in output


@pytest.mark.parametrize("case,policy,message", [
    ("command-env", "remote-command-carries-no-secret", "deploy sets environment"),
    ("output-secret", "no-secret-in-plain-outputs", "a stack output holds a secret value"),
    # The stand-in's own Check refuses this one first; here it plays a provider whose Check lets it by.
    ("proxied-ttl", "proxied-dns-ttl-1", "api.example.com is proxied with ttl 300"),
    ("blocked-web", "served-hostnames-reachable",
     "systems.shop.hosts.web: its cloud firewall shop-web-firewall blocks 443 from anywhere"),
])
def test_a_program_breaking_a_guardrail_fails_the_preview(workspace, case: str, policy: str, message: str) -> None:
    ws = workspace(program=REFUSED, standins=True, env={"STACKYARD_STANDIN_CHECKS": "off"})
    ws.init("refused", config={"stackyard-refused:case": case, "vercel:apiToken": "x", "cloudflare:apiToken": "x",
                               "hcloud:token": "x" * 64})
    code, output = preview(ws, "refused")
    assert code != 0
    assert f"[mandatory]  {policy}" in output and message in output, output


def test_an_advisory_reports_and_lets_the_preview_through(workspace) -> None:
    ws = workspace()
    systems = yaml.safe_load(PRODUCTION.read_text())["config"]["stackyard:systems"]
    productivity = copy.deepcopy(systems["productivity"])
    productivity["hosts"]["app"]["ufw"] = False
    productivity["hosts"]["app"]["backups"]["keep"] = 2
    ws.init("advisory", config={"stackyard:systems": {"productivity": productivity}},
            secrets=PRODUCTIVITY_SECRETS)
    code, output = preview(ws, "advisory")
    assert code == 0, output
    assert "[advisory]  host-without-ufw" in output and "productivity-app-setup: ufw is off" in output
    assert "[advisory]  backups-keep-under-3" in output and "backups keep 2, under 3" in output
