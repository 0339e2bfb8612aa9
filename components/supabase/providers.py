"""Pulumi dynamic providers for a Supabase project: settings documents, edge-function secrets and SQL.

The provider objects are pickled into Pulumi state with every resource, so they hold only the
*names* of the config keys with the credentials. The values reach them in ``configure()``, which
the engine calls with the stack's (decrypted) config in the provider process: the access token and
the database URI are never part of a resource's inputs or outputs.

Outputs keep what drift detection needs and nothing secret: settings as the API reports them,
secret values as sha256 digests (the Management API reports edge-function secrets the same way).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from ..model.topology import SUPABASE_API_URL
from .api import ManagementApi
from .sql import ApiSql, PostgresSql, SqlError, SqlRunner, ident, literal, table_ident, table_name

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's placeholder for values known only after apply
TOKEN_ENV = "SUPABASE_ACCESS_TOKEN"  # the Supabase CLI's variable, honoured when the config key is absent
MIGRATIONS_TABLE = "stackyard.schema_migrations"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _as_digest(live: Any) -> str | None:
    """The API lists secrets by their sha256; anything else it returns is digested here, never kept."""
    if not isinstance(live, str) or not live or set(live) <= {"*"}:
        return None
    return live if re.fullmatch(r"[0-9a-f]{64}", live) else digest(live)


def located(props: dict) -> dict[str, str]:
    """The resource's Management API URL (``apiUrl``), kept in its outputs so the next diff compares it;
    nothing when it has none (Pulumi's wire format drops nulls)."""
    return {"apiUrl": props["apiUrl"]} if props.get("apiUrl") is not None else {}


def _same(a: Any, b: Any) -> bool:
    """Settings compare as the API means them: comma lists without spaces, address lists unordered."""
    if a == UNKNOWN or b == UNKNOWN:
        return False
    if isinstance(a, str) and isinstance(b, str) and "," in a + b:
        return [p.strip() for p in a.split(",")] == [p.strip() for p in b.split(",")]
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    return a == b


class SupabaseProvider(ResourceProvider):
    """What every Supabase resource shares: where the API is and how to authenticate."""

    def __init__(self, api_url: str, token_key: str, dsn_key: str | None = None, backoff: float = 1.0) -> None:
        super().__init__()
        self.api_url = api_url
        self.token_key = token_key
        self.dsn_key = dsn_key
        self.backoff = backoff

    def configure(self, req: ConfigureRequest) -> None:
        # Set after unpickling, in the provider process: never pickled into state.
        self._token = req.config.get(f"stackyard:{self.token_key}")
        self._dsn = req.config.get(f"stackyard:{self.dsn_key}") if self.dsn_key else None

    def api(self) -> ManagementApi:
        token = getattr(self, "_token", None) or os.environ.get(TOKEN_ENV)
        if not token:
            raise RuntimeError(f"no Supabase access token: set it with `pulumi config set --secret "
                               f"stackyard:{self.token_key} sbp_...` (or export {TOKEN_ENV})")
        return ManagementApi(self.api_url, token, backoff=self.backoff)

    def sql(self, ref: str) -> SqlRunner:
        if self.dsn_key is None:
            return ApiSql(self.api(), ref)
        dsn = getattr(self, "_dsn", None)
        if not dsn:
            raise RuntimeError(f"no database URI: set it with `pulumi config set --secret "
                               f"stackyard:{self.dsn_key} postgresql://...`")
        return PostgresSql(dsn)

    def replaced_if_moved(self, olds: dict, news: dict, *keys: str) -> list[str]:
        """The keys whose change makes the resource another object. A table is compared as the object it
        names: ``documents`` and ``public.documents`` are one table, and a replacement would create the
        new resource (a no-op on the same object) and then delete the old one, dropping what it just made."""
        def same(key: str) -> bool:
            old, new = olds.get(key), news.get(key)
            if key == "table" and isinstance(old, str) and isinstance(new, str):
                return table_name(old) == table_name(new)
            return old == new

        return [key for key in ("projectRef", *keys) if key in olds and not same(key)]

    @staticmethod
    def url_moved(olds: dict, news: dict) -> bool:
        """The Management API URL changed: a change the preview shows (an update, which the new URL
        serves), never one hidden in the pickled provider, which is not compared. State from before the
        URL was an input spoke to Supabase's own."""
        return olds.get("apiUrl", SUPABASE_API_URL) != news.get("apiUrl", SUPABASE_API_URL)


# --- settings documents -------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """One settings document of the Management API and how it is read and written."""

    what: str
    read_path: str
    write_method: str
    write_path: str
    wrap: str | None = None
    """Key the request body nests the values under (SSL enforcement's ``requestedConfig``)."""
    unwrap: str | None = None
    """Key of the response holding the values (``config``, ``currentConfig``)."""
    whole: bool = False
    """The write replaces the whole document (network restrictions' ``apply``): a key left out of it is
    reset, so every key the stack sets is sent on each write, not only the changed ones."""


AREAS = {
    "auth": Area("auth settings", "/config/auth", "PATCH", "/config/auth"),
    "postgrest": Area("API (PostgREST) settings", "/postgrest", "PATCH", "/postgrest"),
    "network": Area("network restrictions", "/network-restrictions", "POST", "/network-restrictions/apply",
                    unwrap="config", whole=True),
    "ssl": Area("SSL enforcement", "/ssl-enforcement", "PUT", "/ssl-enforcement", wrap="requestedConfig",
                unwrap="currentConfig"),
}


class SettingsProvider(SupabaseProvider):
    """A settings document (auth, postgrest, network, ssl). Only the keys the stack sets are written,
    compared and read back; ``secretValues`` are compared by digest. Deleting the resource stops
    managing the settings and leaves them as they are: there is no "unset" for them."""

    def _live(self, ref: str, area: Area) -> dict[str, Any]:
        answer = self.api().request("GET", f"/v1/projects/{ref}{area.read_path}", what=area.what) or {}
        return (answer.get(area.unwrap) or {}) if area.unwrap else answer

    def _write(self, ref: str, area: Area, values: dict[str, Any]) -> None:
        body = {area.wrap: values} if area.wrap else values
        self.api().request(area.write_method, f"/v1/projects/{ref}{area.write_path}", body, what=area.what)

    def _outs(self, props: dict, live: dict[str, Any]) -> dict[str, Any]:
        digests = {}
        for key, value in (props.get("secretValues") or {}).items():
            digests[key] = digest(value)
        return {**located(props), "projectRef": props["projectRef"], "area": props["area"],
                "values": {key: live.get(key) for key in props.get("values") or {}},
                "secretDigests": digests}

    def check(self, olds: dict, news: dict) -> CheckResult:
        failures = []
        if news.get("area") not in AREAS:
            failures.append(CheckFailure("area", f"unknown settings area {news.get('area')!r}"))
        return CheckResult(news, failures)

    def create(self, props: dict) -> CreateResult:
        area = AREAS[props["area"]]
        self._write(props["projectRef"], area, self._every_value(props))
        live = self._live(props["projectRef"], area)
        return CreateResult(f"{props['projectRef']}/{props['area']}", self._outs(props, live))

    @staticmethod
    def _every_value(props: dict) -> dict[str, Any]:
        """Every setting the stack sets, secret or not: what a create, or a whole-document write, sends."""
        return {**(props.get("values") or {}), **(props.get("secretValues") or {})}

    @staticmethod
    def _changes(olds: dict, news: dict) -> dict[str, Any]:
        """The settings whose new value differs from the recorded one (secrets by digest)."""
        old_values = olds.get("values") or {}
        old_digests = olds.get("secretDigests") or {}
        changes = {key: value for key, value in (news.get("values") or {}).items()
                   if not _same(old_values.get(key, UNKNOWN), value)}
        changes |= {key: value for key, value in (news.get("secretValues") or {}).items()
                    if value == UNKNOWN or old_digests.get(key) != digest(value)}
        return changes

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        replaces = self.replaced_if_moved(olds, news, "area")
        return DiffResult(changes=bool(replaces or self._changes(olds, news) or self.url_moved(olds, news)),
                          replaces=replaces,
                          delete_before_replace=False)

    def update(self, _id: str, olds: dict, news: dict) -> UpdateResult:
        area = AREAS[news["area"]]
        changes = self._changes(olds, news)
        if changes and area.whole:
            changes = self._every_value(news)
        if changes:
            self._write(news["projectRef"], area, changes)
        return UpdateResult(self._outs(news, self._live(news["projectRef"], area)))

    def read(self, id_: str, props: dict) -> ReadResult:
        live = self._live(props["projectRef"], AREAS[props["area"]])
        outs = {**props, "values": {key: live.get(key) for key in props.get("values") or {}}}
        digests = dict(props.get("secretDigests") or {})
        for key in digests:
            seen = _as_digest(live.get(key))
            if seen is not None:
                digests[key] = seen
        outs["secretDigests"] = digests
        return ReadResult(id_, outs)

    def delete(self, _id: str, _props: dict) -> None:
        return None


# --- edge-function secrets ----------------------------------------------------------------


class EdgeSecretsProvider(SupabaseProvider):
    """The project's edge-function secrets that the stack names. Outputs hold their digests only;
    secrets the stack does not name are left alone, names it drops are deleted."""

    what = "edge-function secrets"

    def _path(self, ref: str) -> str:
        return f"/v1/projects/{ref}/secrets"

    def _put(self, ref: str, secrets: dict[str, str]) -> None:
        if secrets:
            body = [{"name": name, "value": value} for name, value in sorted(secrets.items())]
            self.api().request("POST", self._path(ref), body, what=f"{self.what} {', '.join(sorted(secrets))}")

    def _delete(self, ref: str, names: list[str]) -> None:
        if names:
            self.api().request("DELETE", self._path(ref), sorted(names), what=f"{self.what} {', '.join(names)}")

    def _outs(self, props: dict) -> dict[str, Any]:
        return {**located(props), "projectRef": props["projectRef"],
                "digests": {name: digest(value) for name, value in (props.get("secrets") or {}).items()}}

    def check(self, olds: dict, news: dict) -> CheckResult:
        failures = [CheckFailure("secrets", f"{name}: Supabase refuses names starting with SUPABASE_")
                    for name in news.get("secrets") or {} if name.upper().startswith("SUPABASE_")]
        return CheckResult(news, failures)

    def create(self, props: dict) -> CreateResult:
        self._put(props["projectRef"], props.get("secrets") or {})
        return CreateResult(f"{props['projectRef']}/secrets", self._outs(props))

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        replaces = self.replaced_if_moved(olds, news)
        old = olds.get("digests") or {}
        new = news.get("secrets") or {}
        changed = set(old) ^ set(new) or {n for n, v in new.items() if v == UNKNOWN or old.get(n) != digest(v)}
        return DiffResult(changes=bool(replaces or changed or self.url_moved(olds, news)), replaces=replaces,
                          delete_before_replace=False)

    def update(self, _id: str, olds: dict, news: dict) -> UpdateResult:
        old = olds.get("digests") or {}
        new = news.get("secrets") or {}
        self._put(news["projectRef"], {n: v for n, v in new.items() if old.get(n) != digest(v)})
        self._delete(news["projectRef"], [n for n in old if n not in new])
        return UpdateResult(self._outs(news))

    def read(self, id_: str, props: dict) -> ReadResult:
        listed = self.api().request("GET", self._path(props["projectRef"]), what=self.what) or []
        live = {item["name"]: _as_digest(item.get("value")) for item in listed}
        digests = {name: live[name] for name in props.get("digests") or {} if live.get(name)}
        return ReadResult(id_, {**located(props), "projectRef": props["projectRef"], "digests": digests})

    def delete(self, _id: str, props: dict) -> None:
        self._delete(props["projectRef"], list(props.get("digests") or {}))


# --- database -----------------------------------------------------------------------------


class ConvergingProvider(SupabaseProvider):
    """A database object that create and update both bring to what the inputs say (``_apply``), and
    that a refresh reads back (``_live``: None when it is gone, which makes the engine recreate it)."""

    def _live(self, props: dict) -> dict[str, Any] | None:
        raise NotImplementedError

    def _apply(self, props: dict) -> dict[str, Any]:
        raise NotImplementedError

    def _refreshed(self, props: dict, live: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def update(self, _id: str, olds: dict, news: dict) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def read(self, id_: str, props: dict) -> ReadResult:
        live = self._live(props)
        if live is None:
            return ReadResult("", {})
        return ReadResult(id_, self._refreshed(props, live))


class ExtensionProvider(ConvergingProvider):
    """``create extension if not exists ... with schema ...``; removal drops it without CASCADE, so
    PostgreSQL refuses while a column or function still uses it."""

    def _live(self, props: dict) -> dict[str, Any] | None:
        rows = self.sql(props["projectRef"]).query(
            "select e.extversion as version, n.nspname as schema from pg_extension e "
            f"join pg_namespace n on n.oid = e.extnamespace where e.extname = {literal(props['name'])}",
            what=f"extension {props['name']}")
        return rows[0] if rows else None

    def _apply(self, props: dict, *, moving: bool = False) -> dict[str, Any]:
        """Creates the extension, or moves it when the stack's schema changed (``moving``). An extension
        found in another schema when the stack first takes it on is never moved silently: its objects'
        qualified names would change under the code that uses them."""
        name, schema = props["name"], props["schema"]
        live = self._live(props)
        if live is not None and live["schema"] != schema and not moving:
            raise SqlError(f"extension {name} is already installed in schema {live['schema']}, not {schema}: "
                           f"stackyard does not move it. Set extensionSchema to {live['schema']}, or move it "
                           f"yourself (alter extension {ident(name)} set schema {ident(schema)})")
        if live is None:
            statement = (f"create schema if not exists {ident(schema)}; "
                         f"create extension if not exists {ident(name)} with schema {ident(schema)}")
        elif live["schema"] != schema:
            statement = (f"create schema if not exists {ident(schema)}; "
                         f"alter extension {ident(name)} set schema {ident(schema)}")
        else:
            statement = None
        if statement:
            self.sql(props["projectRef"]).query(statement, what=f"extension {name}")
            live = self._live(props)
        assert live is not None  # found above, or just created
        return {**located(props), "projectRef": props["projectRef"], "name": name,
                "schema": live["schema"], "version": live["version"]}

    def create(self, props: dict) -> CreateResult:
        return CreateResult(f"{props['projectRef']}/extension/{props['name']}", self._apply(props))

    def update(self, _id: str, olds: dict, news: dict) -> UpdateResult:
        # An update is the stack asking for another schema (or for its own back after a hand-made move).
        return UpdateResult(self._apply(news, moving=True))

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        replaces = self.replaced_if_moved(olds, news, "name")
        return DiffResult(changes=bool(replaces) or olds.get("schema") != news.get("schema")
                          or self.url_moved(olds, news), replaces=replaces, delete_before_replace=True)

    def _refreshed(self, props: dict, live: dict[str, Any]) -> dict[str, Any]:
        return {**props, "schema": live["schema"], "version": live["version"]}

    def delete(self, _id: str, props: dict) -> None:
        try:
            self.sql(props["projectRef"]).query(f"drop extension if exists {ident(props['name'])}",
                                                what=f"extension {props['name']}")
        except SqlError as err:
            if "depend on it" not in str(err):
                raise
            raise SqlError(f"extension {props['name']} is still used by the database's objects, so it is not "
                           "dropped: remove what uses it first, keep it in the stack, or stop managing it with "
                           f"`pulumi state delete`. PostgreSQL said: {err}") from None


class RowLevelSecurityProvider(SupabaseProvider):
    """``alter table ... enable row level security``; removal disables it again."""

    def _enabled(self, props: dict) -> bool | None:
        table = table_name(props["table"])
        rows = self.sql(props["projectRef"]).query(
            f"select relrowsecurity as enabled from pg_class where oid = to_regclass({literal(table_ident(table))})",
            what=f"row-level security of {table}")
        return rows[0]["enabled"] if rows else None

    def create(self, props: dict) -> CreateResult:
        table = table_name(props["table"])
        self.sql(props["projectRef"]).query(f"alter table {table_ident(table)} enable row level security",
                                            what=f"row-level security of {table}")
        return CreateResult(f"{props['projectRef']}/rls/{table}", {**props, "enabled": True})

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        replaces = self.replaced_if_moved(olds, news, "table")
        return DiffResult(changes=bool(replaces) or olds.get("enabled") is not True or self.url_moved(olds, news),
                          replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, olds: dict, news: dict) -> UpdateResult:
        return UpdateResult(self.create(news).outs)

    def read(self, id_: str, props: dict) -> ReadResult:
        enabled = self._enabled(props)
        if enabled is None:
            return ReadResult("", {})
        return ReadResult(id_, {**props, "enabled": enabled})

    def delete(self, _id: str, props: dict) -> None:
        if self._enabled(props) is not None:
            table = table_name(props["table"])
            self.sql(props["projectRef"]).query(f"alter table {table_ident(table)} disable row level security",
                                                what=f"row-level security of {table}")


POLICY_FIELDS = ("command", "roles", "using", "check", "permissive")


class PolicyProvider(ConvergingProvider):
    """A row-level security policy. Created and changed by drop-and-create in one transaction; outputs
    keep PostgreSQL's own rendering of it, so a refresh notices a policy edited by hand."""

    def _live(self, props: dict) -> dict[str, Any] | None:
        schema, table = table_name(props["table"]).split(".")
        rows = self.sql(props["projectRef"]).query(
            "select permissive, roles, cmd, qual, with_check from pg_policies "
            f"where schemaname = {literal(schema)} and tablename = {literal(table)} "
            f"and policyname = {literal(props['name'])}",
            what=f"policy {props['name']!r} on {table}")
        if not rows:
            return None
        row = rows[0]
        roles = row["roles"]
        if isinstance(roles, str):  # a name[] may arrive as its text form, {a,b}
            roles = [r for r in roles.strip("{}").split(",") if r]
        # Without empty fields: Pulumi's wire format drops nulls, so state would never compare equal.
        return {key: value for key, value in {**row, "roles": sorted(roles)}.items() if value is not None}

    def _apply(self, props: dict) -> dict[str, Any]:
        table = table_name(props["table"])
        name = ident(props["name"])
        roles = ", ".join("public" if r == "public" else ident(r) for r in props.get("roles") or ["public"])
        statement = (f"drop policy if exists {name} on {table_ident(table)}; "
                     f"create policy {name} on {table_ident(table)} "
                     f"as {'permissive' if props.get('permissive', True) else 'restrictive'} "
                     f"for {props.get('command') or 'all'} to {roles}")
        if props.get("using") is not None:
            statement += f" using ({props['using']})"
        if props.get("check") is not None:
            statement += f" with check ({props['check']})"
        self.sql(props["projectRef"]).query(statement, what=f"policy {props['name']!r} on {table}")
        return {**props, "live": self._live(props), "drifted": False}

    def create(self, props: dict) -> CreateResult:
        return CreateResult(f"{props['projectRef']}/policy/{table_name(props['table'])}/{props['name']}",
                            self._apply(props))

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        replaces = self.replaced_if_moved(olds, news, "table", "name")
        changed = [f for f in POLICY_FIELDS if olds.get(f) != news.get(f)]
        return DiffResult(changes=bool(replaces or changed or olds.get("drifted") or self.url_moved(olds, news)),
                          replaces=replaces, delete_before_replace=False)

    def _refreshed(self, props: dict, live: dict[str, Any]) -> dict[str, Any]:
        return {**props, "live": live, "drifted": live != props.get("live")}

    def delete(self, _id: str, props: dict) -> None:
        table = table_name(props["table"])
        self.sql(props["projectRef"]).query(f"drop policy if exists {ident(props['name'])} on {table_ident(table)}",
                                            what=f"policy {props['name']!r} on {table}")


class MigrationError(Exception):
    """The database's record of applied migrations disagrees with the migration files."""


class MigrationsProvider(SupabaseProvider):
    """Ordered SQL migrations, each applied once in a transaction with the row recording it in
    ``stackyard.schema_migrations`` (name, sha256). The database's record is the authority: a changed
    applied file, a missing applied file or a new file older than the newest applied one is an error,
    never a silent re-run. Deleting the resource un-applies nothing."""

    def _applied(self, sql: SqlRunner) -> list[dict[str, str]]:
        exists = sql.query(f"select to_regclass({literal(MIGRATIONS_TABLE)}) is not null as present",
                           what="migrations")
        if not exists or not exists[0]["present"]:
            return []
        return sql.query(f"select name, checksum from {MIGRATIONS_TABLE} order by name", what="migrations")

    @staticmethod
    def _verify(applied: list[dict[str, str]], migrations: list[dict[str, str]], where: str) -> None:
        files = {m["name"]: m["checksum"] for m in migrations}
        for row in applied:
            if row["name"] not in files:
                raise MigrationError(f"migration {row['name']} is applied ({where}) but its file is gone: "
                                     "restore it; applied migrations are never removed")
            if files[row["name"]] != row["checksum"]:
                raise MigrationError(
                    f"migration {row['name']} was applied with sha256 {row['checksum'][:12]}… ({where}) "
                    f"but the file now has {files[row['name']][:12]}…: an applied migration must not change; "
                    "restore it and put the change in a new migration")
        if applied:
            newest = max(version(row["name"]) for row in applied)
            done = {row["name"] for row in applied}
            for m in migrations:
                if m["name"] not in done and version(m["name"]) < newest:
                    raise MigrationError(f"migration {m['name']} is older than applied ones ({where}): give it a "
                                         "version after the newest applied migration")

    def _migrate(self, props: dict) -> dict[str, Any]:
        sql = self.sql(props["projectRef"])
        sql.query(f"create schema if not exists stackyard; create table if not exists {MIGRATIONS_TABLE} "
                  "(name text primary key, checksum text not null, applied_at timestamptz not null default now())",
                  what="migrations")
        applied = self._applied(sql)
        migrations = props.get("migrations") or []
        self._verify(applied, migrations, "in the database")
        done = {row["name"] for row in applied}
        for m in migrations:
            if m["name"] in done:
                continue
            try:
                sql.query(f"{m['sql'].rstrip().rstrip(';')};\ninsert into {MIGRATIONS_TABLE} (name, checksum) "
                          f"values ({literal(m['name'])}, {literal(m['checksum'])})", what=f"migration {m['name']}")
            except SqlError as err:
                raise MigrationError(f"migration {m['name']} failed and was rolled back; earlier ones stay "
                                     f"applied: {err}") from None
        return {**located(props), "projectRef": props["projectRef"], "applied": self._applied(sql)}

    def create(self, props: dict) -> CreateResult:
        return CreateResult(f"{props['projectRef']}/migrations", self._migrate(props))

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        replaces = self.replaced_if_moved(olds, news)
        migrations = news.get("migrations") or []
        if migrations == UNKNOWN or any(m == UNKNOWN for m in migrations):
            return DiffResult(changes=True)
        applied = olds.get("applied") or []
        self._verify(applied, migrations, "in the stack's state")
        pending = {m["name"] for m in migrations} - {row["name"] for row in applied}
        return DiffResult(changes=bool(replaces or pending or self.url_moved(olds, news)), replaces=replaces,
                          delete_before_replace=False)

    def update(self, _id: str, olds: dict, news: dict) -> UpdateResult:
        return UpdateResult(self._migrate(news))

    def read(self, id_: str, props: dict) -> ReadResult:
        return ReadResult(id_, {**located(props), "projectRef": props["projectRef"],
                                "applied": self._applied(self.sql(props["projectRef"]))})

    def delete(self, _id: str, _props: dict) -> None:
        return None


def version(name: str) -> int:
    return int(name.split("_", 1)[0])
