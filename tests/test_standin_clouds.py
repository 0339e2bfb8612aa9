"""The stand-in plugins' rules: what each refuses, as the real provider would, and what it computes.

The engine tier trusts them to stop a preview where the real cloud would, so each rule is pinned
here by one input it must refuse and the production stack's own inputs, which it must accept.
"""

from __future__ import annotations

import pytest
from helpers.harness import canary_secrets, production_config, run_program

from standin.clouds import NAMES, cloud_named
from standin.values import SECRET_SIG, UNKNOWN


def kind(token: str):
    return cloud_named(token.split(":")[0]).kinds[token]


def refused(token: str, inputs: dict) -> list[tuple[str, str]]:
    """What the stand-in's Check refuses: the pinned schema's misfits, then the hand-written rules."""
    return cloud_named(token.split(":")[0]).check(kind(token), inputs)


DNS = "cloudflare:index/dnsRecord:DnsRecord"
ENV = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
ZONE = "e3b0c74af4dd938aa071e706ee9cf568"

REFUSALS = [
    ("proxied record with a TTL", DNS,
     {"zoneId": ZONE, "name": "api.mehko.ai", "type": "A", "content": "198.51.100.7", "proxied": True, "ttl": 300},
     "ttl", "must have ttl 1"),
    ("record without a TTL (required in provider v6)", DNS,
     {"zoneId": ZONE, "name": "api.mehko.ai", "type": "A", "content": "198.51.100.7"}, "ttl", "missing required"),
    ("A record holding a hostname", DNS,
     {"zoneId": ZONE, "name": "api.mehko.ai", "type": "A", "content": "example.com", "ttl": 1},
     "content", "not an IPv4 address"),
    ("comment over 100 characters", DNS,
     {"zoneId": ZONE, "name": "a.mehko.ai", "type": "A", "content": "198.51.100.7", "ttl": 1, "comment": "x" * 101},
     "comment", "at most 100"),
    ("Vercel variable with no target", ENV,
     {"projectId": "prj_1", "key": "A", "value": "b", "targets": [], "sensitive": False},
     "targets", "at least one of targets"),
    ("sensitive Vercel variable on development", ENV,
     {"projectId": "prj_1", "key": "A", "value": "b", "targets": ["development"], "sensitive": True},
     "sensitive", "cannot target development"),
    ("Pages project name with capitals", "cloudflare:index/pagesProject:PagesProject",
     {"accountId": ZONE, "name": "Mehko", "productionBranch": "main"}, "name", "Pages project name"),
    ("Hetzner firewall rule without a port", "hcloud:index/firewall:Firewall",
     {"name": "fw", "rules": [{"direction": "in", "protocol": "tcp", "sourceIps": ["0.0.0.0/0"]}]},
     "rules[0].port", "needs a port"),
    ("Hetzner server name with an underscore", "hcloud:index/server:Server",
     {"name": "mehko_api", "serverType": "cx22", "image": "ubuntu-24.04"}, "name", "valid hostname"),
    ("Primary IP with nowhere to live", "hcloud:index/primaryIp:PrimaryIp",
     {"name": "ip", "type": "ipv4", "assigneeType": "server", "autoDelete": False}, "location", "one of location"),
    ("Droplet tag with a space", "digitalocean:index/droplet:Droplet",
     {"name": "d", "size": "s-1vcpu-1gb", "image": "debian-12-x64", "tags": ["my tag"]}, "tags[0]", "may only"),
    ("DigitalOcean firewall tcp rule without a port range", "digitalocean:index/firewall:Firewall",
     {"name": "fw", "inboundRules": [{"protocol": "tcp", "sourceAddresses": ["0.0.0.0/0"]}]},
     "inboundRules[0].portRange", "is required"),
    ("Actions secret named GITHUB_", "github:index/actionsSecret:ActionsSecret",
     {"repository": "r", "secretName": "GITHUB_TOKEN", "value": "x"}, "secretName", "must not start with GITHUB_"),
    ("Actions secret with no value", "github:index/actionsSecret:ActionsSecret",
     {"repository": "r", "secretName": "TOKEN"}, "value", "exactly one of"),
]


@pytest.mark.parametrize("token,inputs,prop,fragment", [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_stand_in_refuses_what_the_real_provider_refuses(token: str, inputs: dict, prop: str, fragment: str) -> None:
    failures = refused(token, inputs)
    assert any(p == prop and fragment in reason for p, reason in failures), failures


def test_values_not_known_yet_and_secrets_are_judged_by_what_they_hold() -> None:
    unknown = {"zoneId": ZONE, "name": "api.mehko.ai", "type": "A", "content": UNKNOWN, "ttl": 1}
    assert refused(DNS, unknown) == []
    wrapped = {"projectId": "prj_1", "key": "A", "targets": ["development"],
               "value": {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "s"},
               "sensitive": {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": True}}
    assert [p for p, _ in refused(ENV, wrapped)] == ["sensitive"]


def test_the_hetzner_token_must_be_64_characters() -> None:
    hcloud = cloud_named("hcloud")
    assert [p for p, _ in hcloud.check_config({"token": "short"})] == ["token"]
    assert hcloud.check_config({"token": "x" * 64}) == []


def test_every_resource_the_production_stack_registers_passes_its_stand_in() -> None:
    config = production_config()
    run = run_program(config, canary_secrets(config))
    checked = 0
    for reg in run.resources:
        provider = reg.type.split(":")[0]
        if provider not in NAMES or reg.type.startswith("pulumi:providers:"):
            continue
        assert refused(reg.type, reg.wire) == [], reg.name
        checked += 1
    assert checked == 48  # hcloud 5, digitalocean 4, cloudflare 8, vercel 13, github 18


def test_created_resources_get_the_outputs_the_program_reads() -> None:
    server = kind("hcloud:index/server:Server")
    outputs = server.computed("123", "mehko-api", {})
    assert outputs["ipv4Address"].startswith("198.51.100.") and outputs["ipv6Address"].startswith("2001:db8:")
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHfwXy4HLgjllSvpYTrJg5bs+SS++I0fx8q7G3fw579w ops"
    fingerprint = kind("digitalocean:index/sshKey:SshKey").computed("1", "k", {"publicKey": key})["fingerprint"]
    assert len(fingerprint.split(":")) == 16
    assert kind("cloudflare:index/pagesProject:PagesProject").computed("mehko-ai", "x", {"name": "mehko-ai"}) == {
        "subdomain": "mehko-ai.pages.dev", "createdOn": "2026-01-01T00:00:00Z"}
    assert kind("vercel:index/project:Project").new_id("material-kai-web", {}).startswith("prj_")


def test_seeding_a_stack_file_with_mistakes_steps_aside_for_the_preview(tmp_path) -> None:
    """`make preview` seeds the stand-ins by running the program under mocks; on a mistake only the program
    finds (one that needs a secret's value), the seeding seeds nothing and leaves the message to the
    preview, which shows it once, with its path and no traceback."""
    import os
    import subprocess
    import sys

    import yaml
    from helpers.harness import ROOT

    document = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    document["config"]["stackyard:systems"]["productivity"]["services"]["flask-backend"]["runtime"] = "sytemd"
    stack_file = tmp_path / "Pulumi.broken.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    done = subprocess.run([sys.executable, "-m", "standin.seed", str(stack_file), str(tmp_path / "cloud")],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": "tests"}, capture_output=True, text=True,
                          timeout=120)  # as the Makefile runs it
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"standin-seed: nothing seeded, {stack_file} has mistakes (below)\n"
    assert not (tmp_path / "cloud").exists()
