"""Database settings on a real PostgreSQL the tests start (tests/helpers/postgres.py): extensions, migrations,
row-level security and policies, applied both through the Management API's SQL endpoint (the
loopback fake, spec-checked, passing the SQL to that PostgreSQL) and over a direct connection."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from helpers.fake_supabase import FIXTURES, WORKSPACE_POLICY, FakeSupabase, platform_database, postgres_executor
from helpers.postgres import PostgresServer
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from components.model.formats import sql_expression
from components.model.migrations import read_migrations
from components.supabase.providers import (
    ExtensionProvider,
    MigrationError,
    MigrationsProvider,
    PolicyProvider,
    RowLevelSecurityProvider,
    SupabaseProvider,
)
from components.supabase.sql import SqlError

REF = "abcdefghijklmnopqrst"


@dataclass
class Database:
    server: PostgresServer
    name: str
    make: Callable[[type[SupabaseProvider]], SupabaseProvider]
    fake: FakeSupabase | None

    def rows(self, query: str, *, role: str | None = None, user: uuid.UUID | None = None) -> list[tuple]:
        with self.server.connect(self.name, autocommit=False) as conn:
            if role:
                conn.execute(f"set local role {role}")
            if user:
                conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (str(user),))
            return conn.execute(query).fetchall()

    def run(self, statement: str) -> None:
        with self.server.connect(self.name) as conn:
            conn.execute(statement)


@pytest.fixture(params=["api", "postgres"])
def db(request: pytest.FixtureRequest, postgres: PostgresServer) -> Iterator[Database]:
    name = platform_database(postgres)
    if request.param == "api":
        with FakeSupabase([REF], sql=postgres_executor(postgres.admin_dsn(name))) as fake:
            def make(cls: type[SupabaseProvider]) -> SupabaseProvider:
                provider = cls(fake.url, "supabaseAccessToken", backoff=0.0)
                provider.configure(ConfigureRequest(Config({"stackyard:supabaseAccessToken": fake.token}, "p")))
                return provider

            yield Database(postgres, name, make, fake)
        assert fake.violations == []
        assert fake.calls("POST", "/database/query"), "the SQL went through the Management API"
    else:
        def make(cls: type[SupabaseProvider]) -> SupabaseProvider:
            provider = cls("https://api.supabase.com", "supabaseAccessToken", dsn_key="supabaseDbUrl")
            provider.configure(ConfigureRequest(Config({"stackyard:supabaseDbUrl": postgres.admin_dsn(name)}, "p")))
            return provider

        yield Database(postgres, name, make, None)


def migrations(directory: Path = FIXTURES / "migrations") -> list[dict[str, str]]:
    files, problems = read_migrations(str(directory), root=Path("/"))
    assert problems == []
    return [{"name": m.name, "checksum": m.checksum, "sql": m.sql} for m in files]


def schema(db: Database) -> dict:
    """Extensions, then the fixture migrations: what the production stack's policy needs."""
    extension = db.make(ExtensionProvider)
    for name in ("uuid-ossp", "vector", "ltree"):
        extension.create({"projectRef": REF, "name": name, "schema": "extensions"})
    return db.make(MigrationsProvider).create({"projectRef": REF, "migrations": migrations()}).outs


# --- extensions ----------------------------------------------------------------------------


def test_extensions_are_created_in_the_extensions_schema(db: Database) -> None:
    provider = db.make(ExtensionProvider)
    outs = {}
    for name in ("uuid-ossp", "vector", "ltree"):
        created = provider.create({"projectRef": REF, "name": name, "schema": "extensions"})
        outs[name] = created.outs
        assert created.id == f"{REF}/extension/{name}"

    assert sorted(db.rows("select e.extname, n.nspname from pg_extension e join pg_namespace n "
                          "on n.oid = e.extnamespace where e.extname <> 'plpgsql'")) == [
        ("ltree", "extensions"), ("uuid-ossp", "extensions"), ("vector", "extensions")]
    assert outs["vector"]["version"] == db.rows("select extversion from pg_extension where extname = 'vector'")[0][0]
    distance = "'[1,2,3]'::extensions.vector operator(extensions.<->) '[1,2,4]'::extensions.vector"
    assert db.rows(f"select extensions.uuid_generate_v4() is not null, {distance}") == [(True, 1.0)]
    # Applying again is a no-op, and a refresh reads the same thing back.
    again = provider.create({"projectRef": REF, "name": "ltree", "schema": "extensions"})
    assert again.outs == outs["ltree"]
    assert provider.read(again.id, again.outs).outs == outs["ltree"]
    # Nothing uses ltree yet, so removing it from the stack drops it.
    provider.delete(again.id, again.outs)
    assert db.rows("select count(*) from pg_extension where extname = 'ltree'") == [(0,)]


def test_an_extension_dropped_by_hand_disappears_on_refresh(db: Database) -> None:
    provider = db.make(ExtensionProvider)
    created = provider.create({"projectRef": REF, "name": "ltree", "schema": "extensions"})
    db.run("drop extension ltree")
    assert provider.read(created.id, created.outs).id == ""  # the engine then creates it again


def test_an_extension_found_in_another_schema_is_not_moved_silently(db: Database) -> None:
    db.run("create extension ltree with schema public")  # how a project set up by hand often has it
    provider = db.make(ExtensionProvider)
    with pytest.raises(SqlError, match="already installed in schema public, not extensions: stackyard does not "
                                       "move it"):
        provider.create({"projectRef": REF, "name": "ltree", "schema": "extensions"})
    assert db.rows("select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
                   "where e.extname = 'ltree'") == [("public",)]
    # Adopted where it is, then moved because the stack asks for it: an explicit, previewed change.
    here = provider.create({"projectRef": REF, "name": "ltree", "schema": "public"})
    moved = provider.update(here.id, here.outs, {"projectRef": REF, "name": "ltree", "schema": "extensions"})
    assert moved.outs["schema"] == "extensions"


def test_an_extension_in_use_is_not_dropped(db: Database) -> None:
    schema(db)
    provider = db.make(ExtensionProvider)
    with pytest.raises(SqlError, match="extension vector is still used by the database's objects"):
        provider.delete(f"{REF}/extension/vector", {"projectRef": REF, "name": "vector"})
    assert db.rows("select count(*) from pg_extension where extname = 'vector'") == [(1,)]


# --- migrations ----------------------------------------------------------------------------


def test_migrations_run_once_in_order_and_are_recorded(db: Database) -> None:
    outs = schema(db)
    assert [row["name"] for row in outs["applied"]] == ["20250101000000_workspaces.sql", "20250102000000_api_keys.sql"]
    assert sorted(r[0] for r in db.rows("select tablename from pg_tables where schemaname = 'public'")) == [
        "api_keys", "documents", "user_workspaces"]

    provider = db.make(MigrationsProvider)
    news = {"projectRef": REF, "migrations": migrations()}
    assert provider.diff(f"{REF}/migrations", outs, news).changes is False
    again = provider.update(f"{REF}/migrations", outs, news)  # nothing pending: nothing runs twice
    assert again.outs["applied"] == outs["applied"]
    assert provider.read(f"{REF}/migrations", outs).outs == outs


def test_a_new_migration_is_applied_and_an_edited_one_is_refused(db: Database, tmp_path: Path) -> None:
    outs = schema(db)
    provider = db.make(MigrationsProvider)
    (tmp_path / "m").mkdir()
    for file in (FIXTURES / "migrations").iterdir():
        (tmp_path / "m" / file.name).write_text(file.read_text())
    (tmp_path / "m" / "20250103000000_titles.sql").write_text("create index documents_title on documents (title);")

    added = {"projectRef": REF, "migrations": migrations(tmp_path / "m")}
    assert provider.diff(f"{REF}/migrations", outs, added).changes is True
    outs = provider.update(f"{REF}/migrations", outs, added).outs
    assert len(outs["applied"]) == 3
    assert db.rows("select count(*) from pg_indexes where indexname = 'documents_title'") == [(1,)]

    (tmp_path / "m" / "20250101000000_workspaces.sql").write_text("create table oops (id int);")
    edited = {"projectRef": REF, "migrations": migrations(tmp_path / "m")}
    with pytest.raises(MigrationError, match=r"20250101000000_workspaces.sql was applied with sha256 .* "
                                             r"\(in the stack's state\).*must not change"):
        provider.diff(f"{REF}/migrations", outs, edited)  # caught at preview
    with pytest.raises(MigrationError, match=r"\(in the database\)"):
        provider.update(f"{REF}/migrations", outs, edited)  # and at apply, from the database's record
    assert db.rows("select to_regclass('oops') is null") == [(True,)]


def test_a_removed_or_out_of_order_migration_is_refused(db: Database, tmp_path: Path) -> None:
    outs = schema(db)
    provider = db.make(MigrationsProvider)
    first = [m for m in migrations() if m["name"].startswith("20250101")]
    with pytest.raises(MigrationError, match=r"20250102000000_api_keys.sql is applied .* its file is gone"):
        provider.update(f"{REF}/migrations", outs, {"projectRef": REF, "migrations": first})
    late = {"name": "20240101000000_late.sql", "checksum": "0" * 64, "sql": "select 1"}
    with pytest.raises(MigrationError, match=r"20240101000000_late.sql is older than applied ones"):
        provider.update(f"{REF}/migrations", outs, {"projectRef": REF, "migrations": [late, *migrations()]})


def test_a_failing_migration_rolls_back_whole_and_keeps_the_earlier_ones(db: Database) -> None:
    extension = db.make(ExtensionProvider)
    for name in ("uuid-ossp", "vector", "ltree"):
        extension.create({"projectRef": REF, "name": name, "schema": "extensions"})
    broken = {"name": "20250103000000_broken.sql", "checksum": "f" * 64,
              "sql": "create table half_done (id int);\ninsert into no_such_table values (1);"}
    provider = db.make(MigrationsProvider)
    with pytest.raises(MigrationError, match=r"20250103000000_broken.sql failed and was rolled back.*no_such_table"):
        provider.create({"projectRef": REF, "migrations": [*migrations(), broken]})
    assert db.rows("select to_regclass('half_done') is null") == [(True,)]
    assert db.rows("select name from stackyard.schema_migrations order by name") == [
        ("20250101000000_workspaces.sql",), ("20250102000000_api_keys.sql",)]


# --- row-level security and policies --------------------------------------------------------


def workspace_policy(**changes: object) -> dict:
    """Seed 004's policy as the component sends it, with ``changes``."""
    return {"projectRef": REF, "table": "documents", "name": "Users can only access their workspace data",
            "command": "all", "roles": ["public"], "using": WORKSPACE_POLICY, "check": None, "permissive": True,
            **changes}


def workspace_rows(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    """Two users, each in their own workspace with one document."""
    alice, bob, ws_a, ws_b = (uuid.uuid4() for _ in range(4))
    db.run(f"insert into user_workspaces values ('{alice}', '{ws_a}'), ('{bob}', '{ws_b}');"
           f"insert into documents (workspace_id, title) values ('{ws_a}', 'alice doc'), ('{ws_b}', 'bob doc')")
    return alice, bob


def test_rls_and_the_workspace_policy_hide_other_workspaces_rows(db: Database) -> None:
    schema(db)
    alice, bob = workspace_rows(db)
    rls = db.make(RowLevelSecurityProvider)
    for table in ("documents", "api_keys"):
        created = rls.create({"projectRef": REF, "table": table})
        assert created.outs["enabled"] is True
    assert sorted(db.rows("select relname, relrowsecurity from pg_class where relname in ('documents', 'api_keys')")) \
        == [("api_keys", True), ("documents", True)]
    assert db.rows("select title from documents", role="authenticated", user=alice) == []  # RLS on, no policy yet

    policy = db.make(PolicyProvider)
    props = workspace_policy()
    created = policy.create(props)

    assert db.rows("select title from documents", role="authenticated", user=alice) == [("alice doc",)]
    assert db.rows("select title from documents", role="authenticated", user=bob) == [("bob doc",)]
    assert db.rows("select count(*) from documents") == [(2,)]  # the owner (postgres) is not subject to it
    assert created.outs["live"]["cmd"] == "ALL" and "auth.uid()" in created.outs["live"]["qual"]
    assert policy.read(created.id, created.outs).outs["drifted"] is False
    assert policy.diff(created.id, created.outs, props).changes is False


def test_a_policy_change_is_drop_and_create_in_one_transaction(db: Database) -> None:
    schema(db)
    alice, _ = workspace_rows(db)
    db.make(RowLevelSecurityProvider).create({"projectRef": REF, "table": "documents"})
    policy = db.make(PolicyProvider)
    props = workspace_policy(name="workspace", command="select", roles=["authenticated"])
    created = policy.create(props)

    broken = {**props, "using": "workspace_id IN (SELECT nope FROM nowhere)"}
    assert policy.diff(created.id, created.outs, broken).changes is True
    with pytest.raises(SqlError, match=r"policy 'workspace' on public.documents"):
        policy.update(created.id, created.outs, broken)
    # The drop was rolled back with the failed create: the old policy still guards the table.
    assert db.rows("select title from documents", role="authenticated", user=alice) == [("alice doc",)]

    widened = {**props, "using": "true"}
    updated = policy.update(created.id, created.outs, widened)
    assert len(db.rows("select title from documents", role="authenticated", user=alice)) == 2
    assert updated.outs["live"]["qual"] == "true"


def test_a_policy_edited_by_hand_shows_as_drift_and_is_put_back(db: Database) -> None:
    schema(db)
    alice, _ = workspace_rows(db)
    db.make(RowLevelSecurityProvider).create({"projectRef": REF, "table": "documents"})
    policy = db.make(PolicyProvider)
    props = workspace_policy(name="workspace")
    created = policy.create(props)
    db.run('alter policy "workspace" on documents using (true)')

    refreshed = policy.read(created.id, created.outs)

    assert refreshed.outs["drifted"] is True
    assert policy.diff(created.id, refreshed.outs, props).changes is True
    policy.update(created.id, refreshed.outs, props)
    assert db.rows("select title from documents", role="authenticated", user=alice) == [("alice doc",)]


# Pieces that hide a quote or a parenthesis from a naive count, or that PostgreSQL reads as a literal's edge.
HIDERS = ["'", '"', "$$", "$q$", "E'", "e'", "U&'", "\\", "''", '""', "(", ")", "x", "$$'$$", "$q$'$q$",
          "E'\\''", '"\'"', '"(")']


def test_an_accepted_policy_expression_never_adds_a_with_check_clause(postgres: PostgresServer) -> None:
    """The expression is written into `using (...)`: whatever the stack file's check accepts must stay
    inside it, so PostgreSQL never stores a WITH CHECK clause the stack did not ask for. Each expression
    of a generated corpus that tries to close the clause, and that the check accepts, is created as the
    provider writes it (PolicyProvider._apply), and must come out with a USING clause only."""
    corpus = {f"{a}{b} is not null) with check ({c}{d} is not null"
              for a in HIDERS for b in ("", *HIDERS[:12]) for c in HIDERS for d in ("", *HIDERS[:12])
              if len(a + b + c + d) <= 10}
    accepted = sorted(e for e in corpus if sql_expression(e) is None)
    with postgres.connect(postgres.create_database(), autocommit=False) as conn:
        conn.execute("create table t (x int)")
        created = []
        for expression in accepted:
            try:
                with conn.transaction(force_rollback=True):
                    conn.execute(f"create policy p on t using ({expression})")
                    created.append((expression, *conn.execute(
                        "select polqual is not null, polwithcheck is not null from pg_policy "
                        "where polname = 'p'").fetchone()))
            except psycopg.Error:
                continue  # PostgreSQL refused it: nothing was created
    assert [expression for expression, _, with_check in created if with_check] == []
    # Not toothless: many were created, each with the clause's text inside a literal of its USING clause.
    assert len(created) > 100 and all(using for _, using, _ in created)


def test_removing_a_policy_and_rls_from_the_config_drops_them(db: Database) -> None:
    schema(db)
    rls = db.make(RowLevelSecurityProvider)
    guard = rls.create({"projectRef": REF, "table": "public.api_keys"})
    policy = db.make(PolicyProvider)
    created = policy.create({"projectRef": REF, "table": "api_keys", "name": "own keys", "command": "select",
                             "roles": ["authenticated"], "using": "false", "check": None, "permissive": True})

    policy.delete(created.id, created.outs)
    rls.delete(guard.id, guard.outs)

    assert db.rows("select count(*) from pg_policies where tablename = 'api_keys'") == [(0,)]
    assert db.rows("select relrowsecurity from pg_class where relname = 'api_keys'") == [(False,)]
    assert rls.read(guard.id, guard.outs).outs["enabled"] is False


def test_rls_on_a_missing_table_names_it(db: Database) -> None:
    with pytest.raises(SqlError, match=r"row-level security of public.nothing_here"):
        db.make(RowLevelSecurityProvider).create({"projectRef": REF, "table": "nothing_here"})


@pytest.mark.parametrize("before,after", [("documents", "public.documents"), ("public.documents", "documents")])
def test_a_table_written_with_or_without_its_schema_is_the_same_object(db: Database, before: str,
                                                                       after: str) -> None:
    """A replacement creates the new resource first, on the same object, then deletes the old one: had
    respelling the table replaced the policy, the delete would have dropped the policy just made (and a
    restrictive one gone opens other tenants' rows)."""
    schema(db)
    alice, _ = workspace_rows(db)
    rls = db.make(RowLevelSecurityProvider)
    guard = rls.create({"projectRef": REF, "table": before})
    policy = db.make(PolicyProvider)
    props = {**workspace_policy(name="workspace"), "table": before}
    created = policy.create(props)

    respelled = {**props, "table": after}
    diff = policy.diff(created.id, created.outs, respelled)
    assert diff.replaces == [] and diff.changes is False
    diff = rls.diff(guard.id, guard.outs, {"projectRef": REF, "table": after})
    assert diff.replaces == [] and diff.changes is False
    policy.update(created.id, created.outs, respelled)  # what a change of another field does
    assert db.rows("select title from documents", role="authenticated", user=alice) == [("alice doc",)]


def test_a_policy_name_with_dots_and_backslashes_is_one_name(db: Database) -> None:
    schema(db)
    db.make(RowLevelSecurityProvider).create({"projectRef": REF, "table": "documents"})
    policy = db.make(PolicyProvider)
    name = r"v1.2 read \own 'rows'"
    created = policy.create({**workspace_policy(name=name)})
    assert db.rows("select policyname from pg_policies where tablename = 'documents'") == [(name,)]
    assert created.outs["live"] is not None  # read back by its whole name
    policy.delete(created.id, created.outs)
    assert db.rows("select count(*) from pg_policies where tablename = 'documents'") == [(0,)]
