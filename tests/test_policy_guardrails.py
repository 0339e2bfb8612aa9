"""The policy pack's guardrails (policy/guardrails.py) on the resources the program registers under mocks:
the production stack passes every mandatory one, and each rule reports what it exists to stop. The
engine tier runs the same pack through the real `pulumi preview --policy-pack`."""

from __future__ import annotations

import copy
import json
import sys

import pytest
from helpers.harness import ROOT, Run, canary_secrets, production_config, run_program, unwrap

sys.path.insert(0, str(ROOT / "policy"))

from guardrails import GUARDRAILS, Resource

RULES = {g.name: g for g in GUARDRAILS}


def resources(run: Run) -> list[Resource]:
    """The run's resources as the policy pack sees them: inputs, or a component's registered outputs."""
    by_urn = {r.urn: r for r in run.resources}
    made: dict[str, Resource] = {}

    def convert(urn: str) -> Resource | None:
        if urn not in by_urn:
            return None
        if urn not in made:
            reg = by_urn[urn]
            props = unwrap(run.outputs_by_urn.get(urn, {})) if reg.type.startswith("stackyard:") else reg.inputs
            made[urn] = Resource(reg.type, reg.name, props, reg.protect, convert(reg.parent), urn)
        return made[urn]

    stack = Resource("pulumi:pulumi:Stack", "stackyard-production", unwrap(run.stack_outputs))
    return [convert(r.urn) for r in run.resources] + [stack]


def violations(run: Run, rule: str) -> list[str]:
    return [f"{v.resource.name if v.resource else '-'}: {v.message}" for v in RULES[rule].check(resources(run))]


@pytest.fixture(scope="module")
def production() -> Run:
    config = production_config()
    return run_program(config, canary_secrets(config))


def mutated(change) -> Run:
    config = copy.deepcopy(production_config())
    change(config)
    return run_program(config, canary_secrets(config))


def test_the_production_stack_passes_every_mandatory_guardrail(production: Run) -> None:
    for guardrail in GUARDRAILS:
        if guardrail.mandatory:
            assert violations(production, guardrail.name) == [], guardrail.name


def test_the_production_stack_gets_exactly_its_documented_advisories(production: Run) -> None:
    assert violations(production, "ssh-open-to-the-world") == [
        "mehko-api-firewall: mehko-api-firewall lets anyone reach SSH (port 22); set sshAllowFrom",
        "material-kai-mivaa-firewall: material-kai-mivaa-firewall lets anyone reach SSH (port 22); set sshAllowFrom",
    ]
    for advisory in ("host-without-ufw", "service-without-health-path", "backups-keep-under-3"):
        assert violations(production, advisory) == [], advisory


def test_a_secret_in_a_browser_variable_needs_its_waiver() -> None:
    def unwaive(config: dict) -> None:
        config["stackyard:systems"]["material-kai"]["frontends"]["web"].pop("publicSecrets")

    found = violations(mutated(unwaive), "no-secret-in-browser-bundle")
    assert len(found) == 4  # the 4 AI keys of seed 004, each its own Vercel variable
    assert all("is a secret in a browser-bundled variable" in v for v in found)
    assert any(v.startswith("material-kai-web-VITE_OPENAI_API_KEY-production") for v in found)

    def unwaive_pages(config: dict) -> None:
        config["stackyard:systems"]["mehko"]["frontends"]["web"].pop("publicSecrets")

    pages = violations(mutated(unwaive_pages), "no-secret-in-browser-bundle")
    assert [v.split(": ", 1)[1].split(" is ")[0] for v in pages] == ["VITE_FIREBASE_API_KEY (preview)",
                                                                      "VITE_FIREBASE_API_KEY (production)"]


def test_unprotected_servers_and_kept_addresses_are_stopped() -> None:
    found = violations(mutated(lambda c: c.update({"stackyard:protect": False})), "servers-and-kept-ips-protected")
    assert sorted(v.split(":")[0] for v in found) == ["material-kai-mivaa", "material-kai-mivaa-ipv4", "mehko-api",
                                                      "mehko-api-ipv4"]


def test_a_proxied_record_with_a_ttl_is_stopped() -> None:
    record = Resource("cloudflare:index/dnsRecord:DnsRecord", "api", {"name": "api.example.com", "proxied": True,
                                                                      "ttl": 300})
    assert [v.message for v in RULES["proxied-dns-ttl-1"].check([record])] == [
        "api.example.com is proxied with ttl 300: proxied records take ttl 1"]


def test_a_remote_command_with_environment_or_its_own_command_line_is_stopped(production: Run) -> None:
    secret = canary_secrets(production_config())["openaiApiKey"]
    env = Resource("command:remote:Command", "probe", {"create": "bash -s", "environment": {"TOKEN": "x"}})
    inline = Resource("command:remote:Command", "inline", {"create": f"curl -H 'Authorization: {secret}' x"})
    smuggled = Resource("command:remote:Command", "smuggled", {"create": f"/srv/app/deploy {secret}"})
    found = [v.message for v in RULES["remote-command-carries-no-secret"].check(
        [*resources(production), env, inline, smuggled])]
    assert found == [
        "probe sets environment: sshd puts it in a command line; pass values on stdin instead",
        f"inline: its create command line is not one of stackyard's own; values belong on stdin: "
        f"{inline.props['create'][:80]!r}",
        "smuggled: its create command line holds a secret value",
    ]


def test_a_secret_in_a_plain_stack_output_is_stopped(production: Run) -> None:
    secret = canary_secrets(production_config())["openaiApiKey"]
    stack = Resource("pulumi:pulumi:Stack", "stackyard-production", {"leak": f"key={secret}"})
    found = RULES["no-secret-in-plain-outputs"].check([*resources(production), stack])
    assert [v.message for v in found] == ["a stack output holds a secret value"]


# Secrets a repr would have escaped: a backslash, both quote kinds, and a one-line JSON key file, whose
# private key's newlines are the two characters \\n and whose quotes are ".
AWKWARD_SECRETS = [
    "ab\\cd-1234-secret",
    "it's-a \"quoted\" secret",
    '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n'
    '-----END PRIVATE KEY-----\\n"}',
]


def kept_secret(secret: str) -> Resource:
    """A single-value secret file written to a host: what makes ``secret`` one the stack keeps secret."""
    return Resource("command:remote:Command", "key-file", {"create": "bash -s", "stdin": secret, "logging": "none"})


@pytest.mark.parametrize("secret", AWKWARD_SECRETS)
def test_a_secret_with_backslashes_or_quotes_in_a_plain_stack_output_is_stopped(secret: str) -> None:
    stack = Resource("pulumi:pulumi:Stack", "stackyard-production", {"app": {"config": [f"key={secret}"]}})
    found = RULES["no-secret-in-plain-outputs"].check([kept_secret(secret), stack])
    assert [v.message for v in found] == ["a stack output holds a secret value"]
    # As JSON text, where its backslashes and double quotes are escaped.
    as_json = Resource("pulumi:pulumi:Stack", "stackyard-production", {"app": json.dumps({"key": secret})})
    found = RULES["no-secret-in-plain-outputs"].check([kept_secret(secret), as_json])
    assert [v.message for v in found] == ["a stack output holds a secret value"]
    clean = Resource("pulumi:pulumi:Stack", "stackyard-production", {"app": {"config": ["key=elsewhere"]}})
    assert RULES["no-secret-in-plain-outputs"].check([kept_secret(secret), clean]) == []


@pytest.mark.parametrize("secret", AWKWARD_SECRETS)
def test_a_secret_with_backslashes_or_quotes_in_a_command_line_is_stopped(secret: str) -> None:
    smuggled = Resource("command:remote:Command", "smuggled", {"create": f"/srv/app/deploy {secret}"})
    found = [v.message for v in RULES["remote-command-carries-no-secret"].check([kept_secret(secret), smuggled])]
    assert found and all(v.startswith("smuggled: its create command line") for v in found)


def test_advisories_name_the_host_or_service() -> None:
    host = Resource("stackyard:index:HostProvisioning", "box-setup",
                    {"ufw": False, "services": {"api": {"port": 8000, "healthPath": None}, "worker": {"port": None}},
                     "backups": {"keep": 2}})
    assert [v.message for v in RULES["host-without-ufw"].check([host])] == ["box-setup: ufw is off"]
    assert [v.message for v in RULES["service-without-health-path"].check([host])] == [
        "box-setup: service api has a port but no health check"]
    assert [v.message for v in RULES["backups-keep-under-3"].check([host])] == ["box-setup: backups keep 2, under 3"]


def test_the_policy_and_the_model_know_the_same_browser_prefixes_every_common_framework_among_them() -> None:
    """A free `framework` slug may be any of them: a prefix one list lacks is a secret that reaches every
    visitor unremarked."""
    from components.model.rules.frontends import PUBLIC_PREFIXES
    from guardrails import BROWSER_PREFIXES

    assert BROWSER_PREFIXES == PUBLIC_PREFIXES
    for prefix in ("VITE_", "NEXT_PUBLIC_", "REACT_APP_", "GATSBY_", "NUXT_PUBLIC_", "VUE_APP_", "EXPO_PUBLIC_"):
        assert any(prefix.startswith(known) for known in BROWSER_PREFIXES), prefix


def test_a_stack_renamed_with_formerly_passes_the_command_line_guardrail() -> None:
    """A renamed system and host: each claim's update moves it from the former names (stackyard-claim move
    with them), a command line of stackyard's own; the pack stopped every stack with a service or an
    accessory when the claim's update changed and its pattern did not."""
    def rename(config: dict) -> None:
        systems = config["stackyard:systems"]
        system = systems["productivity"] = systems.pop("productivity")
        system["hosts"]["server"] = system["hosts"].pop("app")
        system["hosts"]["server"]["formerly"] = ["app"]
        for service in system["services"].values():
            service["host"] = "server"
    run = mutated(rename)
    moves = [r for r in run.resources if "stackyard-claim move" in str(r.inputs.get("update"))]
    assert any(" productivity-app-setup-" in r.inputs["update"] for r in moves), "no claim names its former name"
    assert violations(run, "remote-command-carries-no-secret") == []


def firewall_blocking(run: Run, ports: set[str], firewall_type: str) -> list[Resource]:
    """The run's resources, each cloud firewall of ``firewall_type`` written by hand without ``ports``."""
    changed = []
    for resource in resources(run):
        if resource.type == firewall_type:
            props = dict(resource.props)
            if "rules" in props:
                props["rules"] = [rule for rule in props["rules"] if rule.get("port") not in ports]
            if "inboundRules" in props:
                props["inboundRules"] = [rule for rule in props["inboundRules"] if rule.get("portRange") not in ports]
            resource = Resource(resource.type, resource.name, props, resource.protect, resource.parent, resource.urn)
        changed.append(resource)
    return changed


@pytest.mark.parametrize("blocked", [{"80"}, {"443"}, {"80", "443"}])
def test_a_firewall_blocking_a_served_hostname_is_stopped_naming_the_host(production: Run, blocked) -> None:
    found = RULES["served-hostnames-reachable"].check(
        firewall_blocking(production, blocked, "hcloud:index/firewall:Firewall"))
    assert [v.resource.name for v in found if v.resource] == ["mehko-api-firewall"]
    assert found[0].message.startswith("systems.mehko.hosts.api: its cloud firewall mehko-api-firewall blocks "
                                       + " and ".join(sorted(blocked, key=int)))
    assert "api.mehko.ai" in found[0].message
    assert RULES["served-hostnames-reachable"].mandatory


def test_a_firewall_open_to_one_family_or_a_range_is_read_as_it_opens() -> None:
    from guardrails import open_to_anyone

    def hetzner(*rules) -> Resource:
        return Resource("hcloud:index/firewall:Firewall", "f", {"rules": [
            {"direction": "in", "protocol": "tcp", "port": port, "sourceIps": sources} for port, sources in rules]})

    assert open_to_anyone(hetzner(("80-443", ["0.0.0.0/0", "::/0"]))) == {80, 443}
    assert open_to_anyone(hetzner(("80", ["0.0.0.0/0"]), ("443", ["::/0", "0.0.0.0/0"]))) == {443}
    assert open_to_anyone(hetzner(("22", ["0.0.0.0/0", "::/0"]))) == set()
    ocean = Resource("digitalocean:index/firewall:Firewall", "f", {"inboundRules": [
        {"protocol": "tcp", "portRange": "all", "sourceAddresses": ["0.0.0.0/0", "::/0"]}]})
    assert open_to_anyone(ocean) == {80, 443}


def test_a_host_that_serves_nothing_may_keep_its_firewall_shut(production: Run) -> None:
    shut = firewall_blocking(production, {"80", "443"}, "hcloud:index/firewall:Firewall")
    unserved = [Resource(r.type, r.name, {**r.props, "hostnames": []}, r.protect, r.parent, r.urn)
                if r.type == "stackyard:index:HostProvisioning" else r for r in shut]
    assert RULES["served-hostnames-reachable"].check(unserved) == []
