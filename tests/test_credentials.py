"""Systems of different companies in one stack: each system's resources go through providers holding its
own tokens (systems.<name>.credentials); a cloud a system names no token for uses the stack's."""

from __future__ import annotations

import copy

from helpers.harness import CANARY, SECRET_SIG, canary_secrets, production_config, run_program


def two_companies() -> tuple[dict, dict]:
    config = copy.deepcopy(production_config())
    systems = config["stackyard:systems"]
    systems["mehko"]["credentials"] = {"cloudflare": {"secret": "mehkoCloudflareToken"},
                                       "hcloud": {"secret": "mehkoHcloudToken"}}
    systems["material-kai"]["credentials"] = {"cloudflare": {"secret": "kaiCloudflareToken"},
                                              "github": {"secret": "kaiGithubToken"}}
    return config, canary_secrets(config)


def test_two_systems_write_dns_through_two_cloudflare_providers() -> None:
    config, secrets = two_companies()
    run = run_program(config, secrets)
    providers = {r.name: r for r in run.of_type("pulumi:providers:cloudflare")}
    assert set(providers) == {"mehko-cloudflare", "material-kai-cloudflare"}
    for name, secret in (("mehko-cloudflare", "mehkoCloudflareToken"),
                         ("material-kai-cloudflare", "kaiCloudflareToken")):
        token = providers[name].wire["apiToken"]
        assert SECRET_SIG in token and token["value"] == f"{CANARY}-{secret}"
    for reg in run.resources:
        if reg.type.startswith("cloudflare:"):
            owner = run.system_of(reg)
            assert reg.provider.startswith(providers[f"{owner}-cloudflare"].urn + "::"), reg.name


def test_a_system_with_its_own_cloud_account_gets_its_own_ssh_keys_and_provider() -> None:
    config, secrets = two_companies()
    run = run_program(config, secrets)
    (hcloud,) = run.of_type("pulumi:providers:hcloud")
    keys = {r.name: r for r in run.of_type("hcloud:index/sshKey:SshKey")}
    assert list(keys) == [next(n for n in keys if n.startswith("hetzner-mehkoHcloudToken-key-"))]
    (key,) = keys.values()
    assert key.provider.startswith(hcloud.urn + "::")
    server = run.named("mehko-api", "hcloud:index/server:Server")
    assert server.provider.startswith(hcloud.urn + "::")
    # DigitalOcean is named by no system: the stack's default provider (no explicit one), as before
    droplet = run.named("material-kai-mivaa", "digitalocean:index/droplet:Droplet")
    assert droplet.provider == "" and run.of_type("pulumi:providers:digitalocean") == []


def test_a_system_github_token_replaces_the_stacks() -> None:
    config, secrets = two_companies()
    run = run_program(config, secrets)
    (github,) = run.of_type("pulumi:providers:github")
    assert github.wire["token"]["value"] == f"{CANARY}-kaiGithubToken"


def test_without_credentials_everything_uses_the_default_providers() -> None:
    config = production_config()
    run = run_program(config, canary_secrets(config))
    assert [r.type for r in run.resources if r.type.startswith("pulumi:providers:")] == ["pulumi:providers:github"]
