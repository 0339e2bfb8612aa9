"""Component inputs under mocks: firewalls, addresses bound into records, env targets, secret-ness."""

from __future__ import annotations

import copy

import pytest
import yaml
from helpers.harness import CANARY, SECRET_SIG, Run, canary_secrets, numeric_id, production_config, run_program

ANYWHERE = ["0.0.0.0/0", "::/0"]
OPERATOR_KEY = production_config()["stackyard:sshKeys"][0]


@pytest.fixture(scope="module")
def production() -> Run:
    config = production_config()
    return run_program(config, canary_secrets(config))


def is_secret_on_wire(wire_value: object) -> bool:
    return isinstance(wire_value, dict) and SECRET_SIG in wire_value


# --- VpsHost: Hetzner ---------------------------------------------------------------------


def test_hetzner_firewall_opens_ssh_to_allowed_networks_and_only_the_open_ports(production: Run) -> None:
    rules = production.named("mehko-api-firewall").inputs["rules"]
    tcp = {rule["port"]: rule["sourceIps"] for rule in rules if rule["protocol"] == "tcp"}
    assert tcp == {"22": ANYWHERE, "80": ANYWHERE, "443": ANYWHERE}
    assert all(rule["direction"] == "in" for rule in rules)
    assert [rule["protocol"] for rule in rules].count("icmp") == 1


def test_hetzner_firewall_is_attached_to_the_server(production: Run) -> None:
    attachment = production.named("mehko-api-firewall-attachment").inputs
    server_id = 41200001  # the live server the production stack adopts
    firewall_id = numeric_id("mehko-api-firewall")
    assert attachment["serverIds"] == [server_id]
    assert attachment["firewallId"] == firewall_id


def test_hetzner_server_is_protected_and_never_rebuilt_for_user_data_or_keys(production: Run) -> None:
    server = production.named("mehko-api")
    assert server.type == "hcloud:index/server:Server"
    assert server.protect is True
    # publicNets too: its provider applies a change of them by powering the server off (round 31); and its
    # type, which it changes with the server off, unless the host allows a resize (round 32)
    assert set(server.ignore_changes) == {"userData", "sshKeys", "publicNets", "serverType"}
    assert "image" not in server.ignore_changes  # an image change must fail loudly on protect, not vanish


def test_hetzner_server_keeps_its_address_in_a_primary_ip(production: Run) -> None:
    server = production.named("mehko-api").inputs
    primary = production.named("mehko-api-ipv4")
    assert primary.inputs["autoDelete"] is False and primary.protect is True
    assert server["publicNets"] == [{"ipv4Enabled": True, "ipv6Enabled": True,
                                     "ipv4": 55200001}]  # the adopted Primary IP


def test_cloud_init_creates_a_non_root_deploy_user_with_the_operator_keys(production: Run) -> None:
    user_data = production.named("mehko-api").inputs["userData"]
    assert user_data.startswith("#cloud-config\n")
    config = yaml.safe_load(user_data)
    (user,) = config["users"]
    assert user["name"] == "deploy" and user["ssh_authorized_keys"] == [OPERATOR_KEY]
    assert config["disable_root"] is True and config["ssh_pwauth"] is False


def test_one_cloud_ssh_key_per_distinct_public_key_and_provider(production: Run) -> None:
    hcloud_keys = production.of_type("hcloud:index/sshKey:SshKey")
    do_keys = production.of_type("digitalocean:index/sshKey:SshKey")
    assert [k.inputs["publicKey"] for k in hcloud_keys] == [OPERATOR_KEY]
    assert [k.inputs["publicKey"] for k in do_keys] == [OPERATOR_KEY]
    assert production.named("mehko-api").inputs["sshKeys"] == ["9100001"]  # the key adopted in Hetzner
    assert hcloud_keys[0].import_id == "9100001"


# --- VpsHost: DigitalOcean ----------------------------------------------------------------


def test_digitalocean_firewall_inbound_ports_and_droplet(production: Run) -> None:
    firewall = production.named("material-kai-mivaa-firewall").inputs
    tcp = {rule["portRange"]: rule["sourceAddresses"] for rule in firewall["inboundRules"]
           if rule["protocol"] == "tcp"}
    assert tcp == {"22": ANYWHERE, "80": ANYWHERE, "443": ANYWHERE}
    assert firewall["dropletIds"] == [360000001]  # the adopted Droplet
    assert {rule["protocol"] for rule in firewall["outboundRules"]} == {"tcp", "udp", "icmp"}


def test_droplet_is_protected_and_ignores_creation_only_inputs(production: Run) -> None:
    droplet = production.named("material-kai-mivaa")
    assert droplet.protect is True and set(droplet.ignore_changes) == {"userData", "sshKeys", "size"}
    assert droplet.inputs["ipv6"] is True and droplet.inputs["region"] == "fra1"


@pytest.mark.parametrize("system, host", [("mehko", "api"), ("material-kai", "mivaa")])
def test_a_proxy_host_that_leaves_open_ports_out_gets_80_and_443_in_its_cloud_firewall(system, host) -> None:
    """A created host with a proxy serves its sites and answers the ACME challenge through its cloud firewall
    with openPorts left out (ufw opens 80 and 443 on every host already); a list that lacks them is
    refused (tests/model/rules/test_hosts.py)."""
    config = copy.deepcopy(production_config())
    spec = config["stackyard:systems"][system]["hosts"][host]
    assert spec.get("proxy")
    spec.pop("openPorts")
    run = run_program(config, canary_secrets(config))
    inputs = run.named(f"{system}-{host}-firewall").inputs
    if "rules" in inputs:  # Hetzner
        ports = [rule["port"] for rule in inputs["rules"] if rule["protocol"] == "tcp"]
    else:
        ports = [rule["portRange"] for rule in inputs["inboundRules"] if rule["protocol"] == "tcp"]
    assert ports == ["22", "80", "443"]


def test_a_host_without_a_proxy_opens_only_ssh_and_its_open_ports() -> None:
    config = copy.deepcopy(production_config())
    spec = config["stackyard:systems"]["mehko"]["hosts"]["api"]
    spec.pop("proxy")
    spec["openPorts"] = [8443]
    for service in config["stackyard:systems"]["mehko"].get("services", {}).values():
        service.pop("hostnames", None)
    run = run_program(config, canary_secrets(config))
    rules = run.named("mehko-api-firewall").inputs["rules"]
    assert [rule["port"] for rule in rules if rule["protocol"] == "tcp"] == ["22", "8443"]


def test_ssh_source_ranges_are_configurable_per_host() -> None:
    config = copy.deepcopy(production_config())
    config["stackyard:systems"]["mehko"]["hosts"]["api"]["access"].update(
        sshAllowFrom=["203.0.113.0/24"], sshPort=2222)
    run = run_program(config, canary_secrets(config))
    rules = run.named("mehko-api-firewall").inputs["rules"]
    tcp = {rule["port"]: rule["sourceIps"] for rule in rules if rule["protocol"] == "tcp"}
    assert tcp == {"2222": ["203.0.113.0/24"], "80": ANYWHERE, "443": ANYWHERE}
    assert "Port 2222" in run.named("mehko-api").inputs["userData"]


def test_existing_host_creates_no_cloud_resource(production: Run) -> None:
    kinds = production.counts("productivity")
    assert not [kind for kind in kinds if kind.startswith(("hcloud:", "digitalocean:"))]
    assert kinds["stackyard:index:VpsHost"] == 1


# --- CloudflareDns ------------------------------------------------------------------------


def test_a_record_is_bound_to_the_host_ipv4(production: Run) -> None:
    record = production.named("api.mehko.ai-a").inputs
    server = next(r for r in production.resources if r.name == "mehko-api" and r.type.startswith("hcloud"))
    assert record["content"] == server.inputs["ipv4Address"]
    assert record["name"] == "api.mehko.ai" and record["type"] == "A"
    assert record["proxied"] is False and record["ttl"] == 1


def test_records_use_the_kept_ip_and_ipv6_of_a_droplet(production: Run) -> None:
    reserved = production.named("material-kai-mivaa-ipv4").inputs["ipAddress"]
    droplet = production.named("material-kai-mivaa").inputs
    assert production.named("v1api.materialshub.gr-a").inputs["content"] == reserved
    assert reserved != droplet["ipv4Address"]
    assert production.named("v1api.materialshub.gr-aaaa").inputs["content"] == droplet["ipv6Address"]


def test_proxied_records_get_ttl_one_and_others_keep_theirs() -> None:
    config = copy.deepcopy(production_config())
    config["stackyard:systems"]["mehko"]["dns"]["records"] += [
        {"zone": "mehko.ai", "name": "status", "type": "CNAME", "content": "mehko.statuspage.io", "proxied": True},
        {"zone": "mehko.ai", "name": "@", "type": "TXT", "content": "v=spf1 -all", "ttl": 3600},
        {"zone": "mehko.ai", "name": "@", "type": "MX", "content": "mx1.mehko.ai", "priority": 10},
        {"zone": "mehko.ai", "name": "@", "type": "MX", "content": "mx2.mehko.ai", "priority": 20},
    ]
    run = run_program(config, canary_secrets(config))
    assert run.named("status.mehko.ai-cname").inputs["ttl"] == 1
    (txt,) = [r for r in run.of_type("cloudflare:index/dnsRecord:DnsRecord") if r.inputs["type"] == "TXT"]
    assert txt.inputs["ttl"] == 3600
    mx = sorted((r.inputs["priority"], r.inputs["content"]) for r in run.of_type("cloudflare:index/dnsRecord:DnsRecord")
                if r.inputs["type"] == "MX")
    assert mx == [(10, "mx1.mehko.ai"), (20, "mx2.mehko.ai")]


def test_record_names_do_not_change_when_records_come_and_go() -> None:
    def names(extra: list[dict]) -> dict[str, str]:
        config = copy.deepcopy(production_config())
        config["stackyard:systems"]["mehko"]["dns"]["records"] += extra
        run = run_program(config, canary_secrets(config))
        return {r.inputs["content"]: r.name for r in run.of_type("cloudflare:index/dnsRecord:DnsRecord")}

    mx1 = {"zone": "mehko.ai", "name": "@", "type": "MX", "content": "mx1.mehko.ai", "priority": 10}
    mx2 = {"zone": "mehko.ai", "name": "@", "type": "MX", "content": "mx2.mehko.ai", "priority": 20}
    alone, both, reordered = names([mx1]), names([mx1, mx2]), names([mx2, mx1])
    assert alone["mx1.mehko.ai"] == both["mx1.mehko.ai"] == reordered["mx1.mehko.ai"]  # a second one renames none
    assert both["mx2.mehko.ai"] == reordered["mx2.mehko.ai"]
    assert alone["mx1.mehko.ai"].startswith("mehko.ai-mx-")


def test_a_lone_txt_record_keeps_its_old_state_through_an_alias() -> None:
    config = copy.deepcopy(production_config())
    config["stackyard:systems"]["mehko"]["dns"]["records"].append(
        {"zone": "mehko.ai", "name": "@", "type": "TXT", "content": "v=spf1 -all"})
    run = run_program(config, canary_secrets(config))
    (txt,) = [r for r in run.of_type("cloudflare:index/dnsRecord:DnsRecord") if r.inputs["type"] == "TXT"]
    assert txt.aliases == ["mehko.ai-txt"]
    api = run.named("api.mehko.ai-a")
    assert api.aliases == []


# --- CloudflarePagesProject ---------------------------------------------------------------


def test_pages_project_build_and_source(production: Run) -> None:
    project = production.named("mehko-web").inputs
    assert project["name"] == "mehko-ai" and project["productionBranch"] == "main"
    assert project["buildConfig"] == {"buildCommand": "npm run build", "destinationDir": "dist"}
    assert project["source"]["config"] == {"owner": "mehko-ai", "repoName": "mehko-ai", "productionBranch": "main"}


def test_pages_env_vars_secret_text_for_secrets_and_linked_api_url(production: Run) -> None:
    reg = production.named("mehko-web")
    for environment in ("production", "preview"):
        env = reg.inputs["deploymentConfigs"][environment]["envVars"]
        assert env["VITE_API_URL"] == {"type": "plain_text", "value": "https://api.mehko.ai"}
        assert env["VITE_FIREBASE_API_KEY"]["type"] == "secret_text"
        wire = reg.wire["deploymentConfigs"][environment]["envVars"]
        assert is_secret_on_wire(wire["VITE_FIREBASE_API_KEY"]["value"])
        assert not is_secret_on_wire(wire["VITE_API_URL"]["value"])


def test_pages_custom_domains_and_their_proxied_cnames(production: Run) -> None:
    domains = sorted(r.inputs["name"] for r in production.of_type("cloudflare:index/pagesDomain:PagesDomain"))
    assert domains == ["mehko.ai", "www.mehko.ai"]
    for domain in domains:
        cname = production.named(f"mehko-web-{domain}-cname").inputs
        assert cname == {**cname, "type": "CNAME", "content": "mehko-ai.pages.dev", "proxied": True, "ttl": 1,
                         "zoneId": "e3b0c74af4dd938aa071e706ee9cf568", "name": domain}


def test_vercel_variable_names_do_not_depend_on_how_values_group() -> None:
    def names(preview_url: str) -> set[str]:
        config = copy.deepcopy(production_config())
        web = config["stackyard:systems"]["material-kai"]["frontends"]["web"]
        web["env"]["preview"]["SUPABASE_URL"] = preview_url
        run = run_program(config, canary_secrets(config))
        return {r.name for r in run.of_type("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable")
                if r.inputs["key"] == "SUPABASE_URL"}

    shared = names("https://yourprojectrefxxxxxx.supabase.co")  # production and preview share one variable
    split = names("https://staging-project.supabase.co")  # now one each
    assert shared == {"material-kai-web-SUPABASE_URL-production"}
    assert split == {"material-kai-web-SUPABASE_URL-production", "material-kai-web-SUPABASE_URL-preview"}


def test_a_shared_vercel_variable_keeps_its_old_state_through_an_alias(production: Run) -> None:
    shared = production.named("material-kai-web-SUPABASE_URL-production")
    assert shared.inputs["targets"] == ["production", "preview"]
    # Every name the oldest scheme could have given it (its targets joined), whichever grouping it had then.
    assert shared.aliases == [f"material-kai-web-SUPABASE_URL-{joined}" for joined in (
        "production-preview", "production-development", "production-preview-development")]


# --- VercelProject ------------------------------------------------------------------------


def vercel_vars(run: Run) -> dict[str, list]:
    found: dict[str, list] = {}
    for reg in run.of_type("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"):
        found.setdefault(reg.inputs["key"], []).append(reg)
    return found


def test_vercel_project_settings(production: Run) -> None:
    project = production.named("material-kai-web").inputs
    assert project["framework"] == "vite" and project["outputDirectory"] == "dist"
    assert project["installCommand"] == "npm ci" and project["buildCommand"] == "npm run build"
    assert project["gitRepository"] == {"type": "github", "repo": "creativeghq/material-kai-vision-platform"}


def test_vercel_env_var_targets_group_equal_values(production: Run) -> None:
    found = vercel_vars(production)
    targets = {key: sorted(tuple(r.inputs["targets"]) for r in regs) for key, regs in found.items()}
    assert targets["SUPABASE_URL"] == [("production", "preview")]
    assert targets["VITE_DEBUG"] == [("preview",), ("production",)]
    assert targets["SUPABASE_SERVICE_ROLE_KEY"] == [("production",)]
    values = {r.inputs["targets"][0]: r.inputs["value"] for r in found["VITE_DEBUG"]}
    assert values == {"production": "false", "preview": "true"}


def test_vercel_secrets_are_sensitive_and_wrapped(production: Run) -> None:
    for key, regs in vercel_vars(production).items():
        for reg in regs:
            secret = key in {"SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "MIVAA_API_KEY", "VITE_OPENAI_API_KEY",
                             "VITE_ANTHROPIC_API_KEY", "VITE_TOGETHER_AI_API_KEY", "VITE_REPLICATE_API_TOKEN"}
            assert reg.inputs["sensitive"] is secret, key
            # The Vercel SDK wraps every value as a Pulumi secret; `sensitive` is what hides it in Vercel.
            assert is_secret_on_wire(reg.wire["value"]), key


def test_vercel_env_value_built_from_the_api_record(production: Run) -> None:
    (gateway,) = vercel_vars(production)["MIVAA_GATEWAY_URL"]
    assert gateway.inputs["value"] == "https://v1api.materialshub.gr"
    assert gateway.inputs["targets"] == ["production", "preview"]


def test_vercel_domains_get_unproxied_records_in_a_managed_zone() -> None:
    config = copy.deepcopy(production_config())
    web = config["stackyard:systems"]["material-kai"]["frontends"]["web"]
    web.update(domains=["materialshub.gr", "app.materialshub.gr"], zone="materialshub.gr")
    run = run_program(config, canary_secrets(config))
    apex = run.named("material-kai-web-materialshub.gr-a").inputs
    sub = run.named("material-kai-web-app.materialshub.gr-cname").inputs
    assert (apex["type"], apex["content"], apex["proxied"]) == ("A", "76.76.21.21", False)
    assert (sub["type"], sub["content"], sub["proxied"]) == ("CNAME", "cname.vercel-dns.com", False)
    assert len(run.of_type("vercel:index/projectDomain:ProjectDomain")) == 2


# --- GitHub Actions secrets -----------------------------------------------------------------


def test_actions_secrets_are_all_secret_and_use_the_owner_provider(production: Run) -> None:
    secrets = production.of_type("github:index/actionsSecret:ActionsSecret")
    assert len(secrets) == 18
    (provider,) = production.of_type("pulumi:providers:github")
    assert provider.inputs["owner"] == "creativeghq"
    assert is_secret_on_wire(provider.wire["token"])
    for reg in secrets:
        assert is_secret_on_wire(reg.wire["value"]), reg.name
        assert reg.provider.startswith(provider.urn)


def test_actions_secret_values_resolve_hosts_records_and_secrets(production: Run) -> None:
    by_name = {r.inputs["secretName"]: r.inputs for r in production.of_type("github:index/actionsSecret:ActionsSecret")
               if r.inputs["repository"] == "mivaa-pdf-extractor"}
    reserved = production.named("material-kai-mivaa-ipv4").inputs["ipAddress"]
    assert by_name["DEPLOY_HOST"]["value"] == reserved
    assert by_name["MATERIAL_KAI_API_URL"]["value"] == "https://v1api.materialshub.gr"
    assert by_name["SSH_PRIVATE_KEY"]["value"] == f"{CANARY}-mivaaDeploySshKey"


def test_vercel_ids_reach_actions_secrets_from_the_project_itself(production: Run) -> None:
    """Seed 004's VERCEL_PROJECT_ID and VERCEL_ORG_ID: the project's ID as Vercel gives it (here the ID it
    is adopted by) and its team, never typed by hand."""
    by_name = {r.inputs["secretName"]: r for r in production.of_type("github:index/actionsSecret:ActionsSecret")
               if r.inputs["repository"] == "material-kai-vision-platform"}
    project = production.named("material-kai-web")
    project_id = project.import_id.split("/")[-1]
    assert by_name["VERCEL_PROJECT_ID"].inputs["value"] == project_id == "prj_PLACEHOLDERmaterialkai0001"
    assert by_name["VERCEL_ORG_ID"].inputs["value"] == project.inputs["teamId"] == "team_xxxxxxxxxxxxxxxx"
    assert project.urn in by_name["VERCEL_PROJECT_ID"].dependencies


@pytest.mark.parametrize(("system", "host", "key"), [("mehko", "api", "serverType"),
                                                     ("material-kai", "mivaa", "size")])
def test_a_host_that_allows_a_resize_has_its_size_applied(system: str, host: str, key: str) -> None:
    config = production_config()
    config["stackyard:systems"][system]["hosts"][host]["allowResize"] = True
    server = run_program(config, canary_secrets(config)).named(f"{system}-{host}")
    assert key not in server.ignore_changes and "userData" in server.ignore_changes
