"""A whole Supabase project through the path `pulumi up` takes: the program registers the resources
(under mocks, with the real dynamic-resource serialization), and the provider process Pulumi runs
for Python dynamic providers unpickles them and talks to the loopback Management API, whose SQL
endpoint runs on the real PostgreSQL the tests started. Create, refresh, drift, update and delete."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from helpers.dynamic_host import DynamicProviderHost, ProviderError
from helpers.fake_supabase import KAI_REF, KAI_SECRETS, FakeSupabase, kai_project, kai_world
from helpers.harness import Registration, run_program
from helpers.postgres import PostgresServer

REF = KAI_REF
DYNAMIC = "pulumi-python:dynamic/supabase:"


def stack(api_url: str) -> dict:
    return {"stackyard:systems": {"kai": {"supabase": kai_project(api_url)}}}


SECRETS = KAI_SECRETS


@dataclass
class Deployed:
    """What the engine keeps per resource: id, inputs and outputs."""

    state: dict[str, tuple[str, dict, dict]] = field(default_factory=dict)


def dynamic(config: dict, secrets: dict[str, str]) -> list[Registration]:
    """The Supabase resources in an order the engine could create them: each after what it depends on
    (registration order itself varies, since registering waits for asynchronous inputs)."""
    run = run_program(config, secrets)
    pending = sorted((r for r in run.resources if r.type.startswith(DYNAMIC)), key=lambda r: r.name)
    ordered: list[Registration] = []
    while pending:
        ready = next(r for r in pending if set(r.dependencies) <= {o.urn for o in ordered} | outside(run))
        ordered.append(ready)
        pending.remove(ready)
    return ordered


def outside(run) -> set[str]:
    return {r.urn for r in run.resources if not r.type.startswith(DYNAMIC)}


def news(reg: Registration) -> dict:
    """The inputs as the engine sends them to a provider that refuses secrets: unwrapped."""
    return {k: v for k, v in reg.inputs.items() if v is not None}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def world(postgres: PostgresServer) -> Iterator[tuple[FakeSupabase, PostgresServer, str]]:
    with kai_world(postgres) as (fake, name):
        yield fake, postgres, name


def test_create_refresh_update_delete_through_the_dynamic_provider_process(world) -> None:
    fake, postgres, dbname = world
    config = stack(fake.url)
    secrets = {**SECRETS, "supabaseAccessToken": fake.token}
    regs = dynamic(config, secrets)
    kinds = [r.type.removeprefix(DYNAMIC) for r in regs]
    assert sorted(kinds) == ["EdgeSecrets", "Extension", "Extension", "Extension", "Migrations", "Policy",
                             "RowLevelSecurity", "RowLevelSecurity", "Settings", "Settings", "Settings", "Settings"]
    assert kinds.index("Migrations") > max(i for i, k in enumerate(kinds) if k == "Extension")
    assert kinds.index("Policy") > max(i for i, k in enumerate(kinds) if k == "RowLevelSecurity")
    deployed = Deployed()

    with DynamicProviderHost({"stackyard:supabaseAccessToken": fake.token}) as host:
        # --- pulumi up: check and create, in registration (dependency) order -------------------
        for reg in regs:
            inputs = host.check(reg.urn, {}, news(reg))
            id_, outs = host.create(reg.urn, inputs)
            deployed.state[reg.urn] = (id_, inputs, outs)

        live = fake.projects[REF]
        assert (live.auth["site_url"], live.auth["jwt_exp"]) == ("https://kai.example.com", 3600)
        assert live.auth["external_github_secret"] == "github-oauth-one"
        assert (live.postgrest["db_schema"], live.network["dbAllowedCidrs"], live.ssl) == (
            "public,graphql_public", ["203.0.113.0/24"], True)
        assert {n: d for n, (d, _) in live.secrets.items()} == {"JWT_SECRET_KEY": sha("jwt-secret-one"),
                                                                "MIVAA_API_KEY": sha("mivaa-key-one")}
        every_output = json.dumps([outs for _, _, outs in deployed.state.values()])
        for value in SECRETS.values():
            assert value not in every_output  # outputs hold digests, never the secret
        assert fake.token not in every_output

        alice, ws_a, ws_b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        with postgres.connect(dbname) as conn:
            conn.execute(f"insert into user_workspaces values ('{alice}', '{ws_a}');"
                         f"insert into documents (workspace_id, title) values ('{ws_a}', 'mine'), ('{ws_b}', 'not')")
        with postgres.connect(dbname, autocommit=False) as conn:
            conn.execute("set local role authenticated")
            conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (str(alice),))
            assert conn.execute("select title from documents").fetchall() == [("mine",)]

        # --- pulumi refresh, then preview: nothing drifted, nothing to do ------------------------
        for reg in regs:
            id_, inputs, outs = deployed.state[reg.urn]
            read_id, refreshed = host.read(id_, reg.urn, outs, inputs)
            assert read_id == id_
            assert host.diff(id_, reg.urn, refreshed, inputs) is False, reg.name

        # --- drift made by hand: refresh sees exactly those resources --------------------------
        live.auth["jwt_exp"] = 60
        del live.secrets["MIVAA_API_KEY"]
        with postgres.connect(dbname) as conn:
            conn.execute('alter policy "Users can only access their workspace data" on documents using (true)')
        drifted = []
        for reg in regs:
            id_, inputs, outs = deployed.state[reg.urn]
            _, refreshed = host.read(id_, reg.urn, outs, inputs)
            if host.diff(id_, reg.urn, refreshed, inputs):
                drifted.append(reg.name)
                deployed.state[reg.urn] = (id_, inputs, host.update(id_, reg.urn, refreshed, inputs))
        assert sorted(drifted) == [f"supabase-{REF}-auth", f"supabase-{REF}-edge-secrets",
                           f"supabase-{REF}-policy-public-documents-users-can-only-access-their-workspace-data"]
        assert live.auth["jwt_exp"] == 3600 and "MIVAA_API_KEY" in live.secrets

        # --- a changed stack: rotated secret, new setting, one edge secret dropped ----------------
        changed = copy.deepcopy(config)
        project = changed["stackyard:systems"]["kai"]["supabase"]
        project["auth"]["jwtExpiry"] = 7200
        del project["secrets"]["MIVAA_API_KEY"]
        rotated = {**secrets, "jwtSecretKey": "jwt-secret-two"}
        updated = []
        for reg in dynamic(changed, rotated):
            id_, old_inputs, outs = deployed.state[reg.urn]
            inputs = host.check(reg.urn, old_inputs, news(reg))
            if host.diff(id_, reg.urn, outs, inputs):
                updated.append(reg.name)
                deployed.state[reg.urn] = (id_, inputs, host.update(id_, reg.urn, outs, inputs))
        assert sorted(updated) == [f"supabase-{REF}-auth", f"supabase-{REF}-edge-secrets"]
        assert live.auth["jwt_exp"] == 7200
        assert {n: d for n, (d, _) in live.secrets.items()} == {"JWT_SECRET_KEY": sha("jwt-secret-two")}

        # --- an edited migration is refused at preview, from the state alone ------------------------
        migrations_reg = next(r for r in regs if r.type.endswith(":Migrations"))
        id_, inputs, outs = deployed.state[migrations_reg.urn]
        edited = copy.deepcopy(inputs)
        edited["migrations"][0]["checksum"] = sha("edited")
        with pytest.raises(ProviderError, match="must not change"):
            host.diff(id_, migrations_reg.urn, outs, edited)

        # --- pulumi destroy, in reverse order -----------------------------------------------------
        refused = []
        for reg in reversed(regs):
            id_, _, outs = deployed.state[reg.urn]
            try:
                host.delete(id_, reg.urn, outs)
            except ProviderError as err:
                refused.append((reg.name, str(err)))
        assert live.secrets == {}
        with postgres.connect(dbname) as conn:
            assert conn.execute("select count(*) from pg_policies where tablename = 'documents'").fetchone() == (0,)
            assert conn.execute("select bool_or(relrowsecurity) from pg_class "
                                "where relname in ('documents', 'api_keys')").fetchone() == (False,)
            # Migrations are never un-applied, so the tables stay, and with them the extensions they use.
            assert conn.execute("select count(*) from pg_extension where extname in "
                                "('uuid-ossp', 'vector', 'ltree')").fetchone() == (3,)
        assert sorted(name for name, _ in refused) == [f"supabase-{REF}-extension-ltree",
                                                       f"supabase-{REF}-extension-uuid-ossp",
                                                       f"supabase-{REF}-extension-vector"]
        assert all("still used" in message for _, message in refused), refused
        # Settings documents are left as they were.
        assert live.auth["jwt_exp"] == 7200
