"""A Supabase project's settings through the real engine: `pulumi up`, `refresh` after a hand-made change,
`up` to put it back, an `up` that changes nothing, and `destroy`, against the loopback Management API
(checked against Supabase's OpenAPI spec) whose SQL endpoint runs on the tests' real PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers.fake_supabase import KAI_REF, FakeSupabase, kai_project, kai_world
from helpers.postgres import PostgresServer
from helpers.workspace import counts_by_type, errors, steps_by_op

from components.model.rules.supabase import API_URL_ENV

REF = KAI_REF
DYNAMIC = "pulumi-python:dynamic/supabase:"
SECRETS = {"jwtSecretKey": "CANARY-supabase-jwt-5d1c", "mivaaApiKey": "CANARY-supabase-mivaa-8e0a",
           "githubOauth": "CANARY-supabase-oauth-c3f7"}
POLICY = f"supabase-{REF}-policy-public-documents-users-can-only-access-their-workspace-data"
AUTH, EDGE = f"supabase-{REF}-auth", f"supabase-{REF}-edge-secrets"


def project(api_url: str) -> dict:
    return kai_project(api_url, migrations="tests/fixtures/supabase/plain-migrations")


@pytest.fixture
def world(postgres: PostgresServer) -> Iterator[tuple[FakeSupabase, PostgresServer, str]]:
    with kai_world(postgres) as (fake, name):
        yield fake, postgres, name


def test_up_refresh_repair_noop_and_destroy_through_the_engine(workspace, world) -> None:
    fake, postgres, dbname = world
    ws = workspace()
    ws.init("kai", config={"stackyard:systems": {"kai": {"supabase": project(fake.url)}}},
            secrets={**SECRETS, "supabaseAccessToken": fake.token})
    printed: list[str] = []

    up = ws.up("kai")
    printed.append(up.output)
    assert errors(up.json()) == []
    created = {kind.removeprefix(DYNAMIC): n for kind, n in counts_by_type(up.json()).items()
               if kind.startswith(DYNAMIC)}
    assert created == {"EdgeSecrets": 1, "Extension": 3, "Migrations": 1, "Policy": 1, "RowLevelSecurity": 2,
                       "Settings": 4}
    live = fake.projects[REF]
    assert (live.auth["site_url"], live.auth["jwt_exp"], live.postgrest["max_rows"]) == (
        "https://kai.example.com", 3600, 1000)
    assert sorted(live.secrets) == ["JWT_SECRET_KEY", "MIVAA_API_KEY"]
    with postgres.connect(dbname) as conn:
        assert conn.execute("select count(*) from pg_policies where tablename = 'documents'").fetchone() == (1,)

    # A change made by hand, in the dashboard and in the SQL editor: refresh sees exactly those.
    live.auth["jwt_exp"] = 60
    del live.secrets["MIVAA_API_KEY"]
    with postgres.connect(dbname) as conn:
        conn.execute('alter policy "Users can only access their workspace data" on documents using (true)')
    refresh = ws.refresh("kai")
    printed.append(refresh.output)
    drift = ws.preview("kai")
    printed.append(drift.output)
    assert steps_by_op(drift.json()) == {"update": {AUTH, EDGE, POLICY}}

    repair = ws.up("kai")
    printed.append(repair.output)
    assert repair.applied() == {"update": {AUTH, EDGE, POLICY}}
    assert live.auth["jwt_exp"] == 3600 and "MIVAA_API_KEY" in live.secrets
    with postgres.connect(dbname) as conn:
        using = conn.execute("select qual from pg_policies where tablename = 'documents'").fetchone()[0]
    assert "user_workspaces" in using

    again = ws.up("kai")
    printed.append(again.output)
    assert again.applied() == {} and set(again.summary()["resourceChanges"]) == {"same"}

    # A table taken out of rowLevelSecurity keeps its RLS on: the engine forgets the resource, nothing opens.
    ws.set_config("kai", "systems", {"kai": {"supabase": {**project(fake.url), "database": {
        **project(fake.url)["database"], "rowLevelSecurity": ["documents"]}}}})
    narrowed = ws.up("kai")
    printed.append(narrowed.output)
    assert narrowed.summary()["resourceChanges"].get("delete") == 1
    with postgres.connect(dbname) as conn:
        assert conn.execute("select relrowsecurity from pg_class where relname = 'api_keys'").fetchone() == (True,)

    # No secret, and not the access token, in plain text in anything the engine printed or kept; nor a
    # secret's digest (an unsalted sha256 of a password is found again offline).
    state = ws.backend_text()
    for value in [*SECRETS.values(), fake.token]:
        assert value not in state
        assert hashlib.sha256(value.encode()).hexdigest() not in state, "a secret's digest is in the state"
        assert all(value not in text for text in printed)

    gone = ws.destroy("kai")
    assert gone.summary()["resourceChanges"].get("delete") == 14  # 11 dynamic resources, 2 components, the stack
    assert live.secrets == {}
    with postgres.connect(dbname) as conn:
        assert conn.execute("select count(*) from pg_policies where tablename = 'documents'").fetchone() == (0,)
        assert conn.execute("select count(*) from pg_extension where extname in "
                            "('uuid-ossp', 'vector', 'ltree')").fetchone() == (0,)
    assert ws.export("kai")["deployment"].get("resources") in (None, [])
    assert live.auth["jwt_exp"] == 3600  # settings are left as they were


def test_a_system_renamed_without_formerly_keeps_its_supabase_objects(workspace, world) -> None:
    """The resources are named after the project, not the system: renamed without `formerly`, the engine
    neither creates nor deletes one (a delete after its new copy's create dropped the policy)."""
    fake, postgres, dbname = world
    ws = workspace()
    ws.init("kai", config={"stackyard:systems": {"kai": {"supabase": project(fake.url)}}},
            secrets={**SECRETS, "supabaseAccessToken": fake.token})
    assert errors(ws.up("kai").json()) == []

    ws.set_config("kai", "systems", {"material-kai": {"supabase": project(fake.url)}})
    renamed = ws.up("kai")
    assert errors(renamed.json()) == []
    database_steps = {op: sorted(n for n in names if n.startswith("supabase-"))
                      for op, names in renamed.applied().items()}
    assert {op: names for op, names in database_steps.items() if names} == {}, renamed.output
    with postgres.connect(dbname) as conn:
        assert conn.execute("select count(*) from pg_policies where tablename = 'documents'").fetchone() == (1,)
    assert sorted(fake.projects[REF].secrets) == ["JWT_SECRET_KEY", "MIVAA_API_KEY"]
    assert errors(ws.destroy("kai").json()) == []


class TokenCatcher(BaseHTTPRequestHandler):
    """A host a pull request's stack file could name as apiUrl: records what it is sent."""

    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(f"{self.command} {self.path} {self.headers.get('Authorization')}")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_a_changed_api_url_is_refused_or_shown_never_followed_silently(workspace) -> None:
    """The URL lived only in the pickled provider: a stack file pointing apiUrl elsewhere previewed as no
    change, and the next up sent the account's token there. Now a URL the environment does not name is
    refused before anything runs, and a change to one it names is an update the preview shows."""
    catcher = ThreadingHTTPServer(("127.0.0.1", 0), TokenCatcher)
    threading.Thread(target=catcher.serve_forever, daemon=True).start()
    elsewhere = f"http://127.0.0.1:{catcher.server_port}"

    def system(url: str) -> dict:
        return {"kai": {"supabase": {"projectRef": REF, "apiUrl": url, "auth": {"siteUrl": "https://kai.example.com"},
                                     "secrets": {"JWT_SECRET_KEY": {"secret": "jwtSecretKey"}}}}}

    try:
        with FakeSupabase([REF]) as fake:
            ws = workspace()
            ws.init("kai", config={"stackyard:systems": system(fake.url)},
                    secrets={"jwtSecretKey": SECRETS["jwtSecretKey"], "supabaseAccessToken": fake.token})
            assert errors(ws.up("kai").json()) == []

            ws.set_config("kai", "systems", system(elsewhere))
            for refused in (ws.preview("kai", check=False), ws.up("kai", check=False)):
                assert refused.returncode != 0
                assert "systems.kai.supabase.apiUrl: the access token goes to https://api.supabase.com only" in (
                    refused.output)
            assert TokenCatcher.seen == []

            # The same fake by another name, which the environment names: an update of every resource.
            port = fake.url.rsplit(":", 1)[1]
            moved = f"http://localhost:{port}"
            os.environ[API_URL_ENV] = moved  # until the fake's exit puts back what was there before it
            ws.set_config("kai", "systems", system(moved))
            preview = ws.preview("kai", "--diff")
            assert steps_by_op(preview.json()) == {"update": {AUTH, EDGE}}, preview.output
            assert ws.up("kai").applied() == {"update": {AUTH, EDGE}}
            assert ws.up("kai").applied() == {}
            assert fake.violations == []
    finally:
        catcher.shutdown()
        catcher.server_close()
    assert TokenCatcher.seen == []
