"""SupabaseProject under Pulumi mocks: the graph the production stack registers for seed 004's project."""

from __future__ import annotations

import base64
import copy

import dill
import pytest
from helpers.harness import CANARY, Registration, Run, canary_secrets, production_config, run_program

from components.supabase.providers import EdgeSecretsProvider, PolicyProvider, SettingsProvider

DYNAMIC = "pulumi-python:dynamic/supabase:"


@pytest.fixture(scope="module")
def production() -> Run:
    config = production_config()
    return run_program(config, canary_secrets(config))


def supabase(run: Run, kind: str) -> list[Registration]:
    return run.of_type(DYNAMIC + kind)


def provider_of(reg: Registration) -> object:
    """The provider object the engine would unpickle from the resource's state."""
    return dill.loads(base64.b64decode(reg.inputs["__provider"]))


def test_material_kai_gets_seed_004s_extensions_rls_policy_and_auth(production: Run) -> None:
    extensions = sorted((r.inputs["name"], r.inputs["schema"]) for r in supabase(production, "Extension"))
    assert extensions == [("ltree", "extensions"), ("uuid-ossp", "extensions"), ("vector", "extensions")]
    assert sorted(r.inputs["table"] for r in supabase(production, "RowLevelSecurity")) == [
        "public.api_keys", "public.documents"]  # written as the object they name, so a respelling is no change
    (policy,) = supabase(production, "Policy")
    assert policy.inputs["name"] == "Users can only access their workspace data"
    assert policy.inputs["using"] == ("workspace_id IN (SELECT workspace_id FROM user_workspaces "
                                      "WHERE user_id = auth.uid())")
    (auth,) = supabase(production, "Settings")
    assert auth.inputs["area"] == "auth"
    # Only what the stack sets: every other auth setting is left as it is.
    assert auth.inputs["values"] == {"site_url": "https://material-kai-vision-platform.vercel.app",
                                     "uri_allow_list": "https://material-kai-vision-platform.vercel.app/**",
                                     "jwt_exp": 3600}
    assert {r.inputs["projectRef"] for r in production.resources if r.type.startswith(DYNAMIC)} == {
        "yourprojectrefxxxxxx"}


def test_policies_wait_for_rls_and_rls_waits_for_the_extensions(production: Run) -> None:
    extensions = {r.urn for r in supabase(production, "Extension")}
    rls = {r.inputs["table"]: r.urn for r in supabase(production, "RowLevelSecurity")}
    for reg in supabase(production, "RowLevelSecurity"):
        assert extensions <= set(reg.dependencies)
    (policy,) = supabase(production, "Policy")
    assert rls["public.documents"] in policy.dependencies
    assert rls["public.api_keys"] not in policy.dependencies


def test_edge_secrets_are_wrapped_and_the_gateway_url_comes_from_the_dns_record(production: Run) -> None:
    (secrets,) = supabase(production, "EdgeSecrets")
    assert sorted(secrets.inputs["secrets"]) == ["JWT_SECRET_KEY", "MIVAA_API_KEY", "MIVAA_GATEWAY_URL"]
    assert secrets.inputs["secrets"]["JWT_SECRET_KEY"] == f"{CANARY}-jwtSecretKey"
    assert secrets.inputs["secrets"]["MIVAA_GATEWAY_URL"].startswith("https://v1api.materialshub.gr")
    assert "4dabf18193072939515e22adb298388d" in secrets.wire["secrets"]  # the whole map is a secret


def test_pickled_providers_carry_config_key_names_never_credentials(production: Run) -> None:
    regs = [r for r in production.resources if r.type.startswith(DYNAMIC)]
    assert len(regs) == 8
    for reg in regs:
        blob = base64.b64decode(reg.inputs["__provider"])
        assert CANARY.encode() not in blob, reg.name
        provider = provider_of(reg)
        assert provider.token_key == "supabaseAccessToken"
        assert provider.api_url == "https://api.supabase.com"
        assert not hasattr(provider, "_token")
        # Pickled by reference: the provider process imports components.supabase from the project root.
        assert b"components.supabase.providers" in blob
    kinds = {r.type.rsplit(":", 1)[1]: type(provider_of(r)) for r in regs}
    assert kinds["Settings"] is SettingsProvider
    assert kinds["EdgeSecrets"] is EdgeSecretsProvider
    assert kinds["Policy"] is PolicyProvider


def test_via_postgres_names_the_uri_secret_and_more_areas_register() -> None:
    config = copy.deepcopy(production_config())
    project = config["stackyard:systems"]["material-kai"]["supabase"]
    project["database"].update(via="postgres", url={"secret": "supabaseDbUrl"})
    project["api"] = {"schemas": ["public", "graphql_public"], "maxRows": 500}
    project["network"] = {"allowedCidrs": ["203.0.113.0/24", "2001:db8::/32"], "enforceSsl": True}
    run = run_program(config, canary_secrets(config))

    areas = {r.inputs["area"]: r.inputs["values"] for r in supabase(run, "Settings")}
    assert areas == {
        "auth": areas["auth"],
        "postgrest": {"db_schema": "public,graphql_public", "max_rows": 500},
        "network": {"dbAllowedCidrs": ["203.0.113.0/24"], "dbAllowedCidrsV6": ["2001:db8::/32"]},
        "ssl": {"database": True},
    }
    for reg in supabase(run, "Extension"):
        assert provider_of(reg).dsn_key == "supabaseDbUrl"
        assert CANARY.encode() not in base64.b64decode(reg.inputs["__provider"])


def test_migrations_register_between_extensions_and_rls() -> None:
    config = copy.deepcopy(production_config())
    config["stackyard:systems"]["material-kai"]["supabase"]["database"]["migrations"] = \
        "tests/fixtures/supabase/migrations"
    run = run_program(config, canary_secrets(config))

    (migrations,) = supabase(run, "Migrations")
    assert [m["name"] for m in migrations.inputs["migrations"]] == ["20250101000000_workspaces.sql",
                                                                    "20250102000000_api_keys.sql"]
    assert all(len(m["checksum"]) == 64 and m["sql"] for m in migrations.inputs["migrations"])
    assert {r.urn for r in supabase(run, "Extension")} <= set(migrations.dependencies)
    for reg in supabase(run, "RowLevelSecurity"):
        assert reg.dependencies == [migrations.urn]


def test_row_level_security_stays_on_when_a_table_leaves_the_stack(production: Run) -> None:
    # Removing a table from rowLevelSecurity must not open it: the engine only forgets the resource.
    assert all(r.retain_on_delete for r in supabase(production, "RowLevelSecurity"))
    assert not any(r.retain_on_delete for r in supabase(production, "Policy"))
    config = copy.deepcopy(production_config())
    config["stackyard:systems"]["material-kai"]["supabase"]["database"]["rlsOnRemoval"] = "disable"
    opened = run_program(config, canary_secrets(config))
    assert not any(r.retain_on_delete for r in supabase(opened, "RowLevelSecurity"))
