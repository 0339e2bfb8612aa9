"""Running SQL on the project's database: through the Management API or a direct connection.

Each ``query()`` is one round trip holding one or more statements. PostgreSQL runs a multi-statement
simple query as one implicit transaction, so a policy's drop-and-create, or a migration with the row
recording it, either all happens or none of it does.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..render.quoting import postgres_identifier, postgres_literal
from .api import ManagementApi, SupabaseApiError


class SqlError(Exception):
    """A statement PostgreSQL refused, with the setting it was for."""


class SqlRunner(Protocol):
    def query(self, sql: str, *, what: str) -> list[dict[str, Any]]:
        """The rows of the last statement (none for statements without a result)."""
        ...


class ApiSql:
    """``POST /v1/projects/{ref}/database/query``: runs as the project's postgres role."""

    def __init__(self, api: ManagementApi, ref: str) -> None:
        self.api = api
        self.ref = ref

    def query(self, sql: str, *, what: str) -> list[dict[str, Any]]:
        try:
            rows = self.api.request("POST", f"/v1/projects/{self.ref}/database/query", {"query": sql}, what=what)
        except SupabaseApiError as err:
            if err.status == 400:  # the API answers SQL errors with 400 and PostgreSQL's message
                raise SqlError(str(err)) from None
            raise
        return rows if isinstance(rows, list) else []


LOOPBACK = ("localhost", "127.0.0.1", "::1")


class PostgresSql:
    """A direct connection (``postgresql://`` URI), one per query, closed straight after.

    The URI must have libpq check the server's certificate (``sslmode=verify-full`` and the CA in
    ``sslrootcert``): the one Supabase's dashboard gives says nothing, and libpq then takes any
    certificate, or none, so a machine in the middle could relay the login and run SQL as postgres.
    Only a server on loopback (a tunnel's end, a test's) may go without."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn

    def checked(self) -> None:
        """Raises SqlError unless the connection checks its server (the URI's values never in the message)."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            info = conninfo_to_dict(self._dsn)
        except Exception:
            raise SqlError("supabase.database.url: not a PostgreSQL connection URI") from None
        if info.get("sslmode") == "verify-full" and "service" not in info:
            return
        # Loopback only if every place libpq may dial is: each host and each hostaddr (which wins over its
        # host), none left to the environment (PGHOST, a service file).
        places = [p for key in ("host", "hostaddr") for p in str(info.get(key) or "").split(",") if p]
        if "service" not in info and places and all(p in LOOPBACK or p.startswith("/") for p in places):
            return
        raise SqlError("supabase.database.url: the connection must check the database's certificate: add "
                       "sslmode=verify-full&sslrootcert=<Supabase's CA certificate, a file> to the URI (the "
                       "dashboard's Database settings give the certificate); without it libpq takes any "
                       "server that answers")

    def query(self, sql: str, *, what: str) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        self.checked()
        try:
            # psycopg's own spelling: pyright binds connect()'s Row to its default, TupleRow, whatever the
            # row_factory (psycopg issue 1257)
            with psycopg.connect(self._dsn, row_factory=dict_row,  # pyright: ignore[reportArgumentType]  psycopg#1257
                                 connect_timeout=30) as conn:
                rows = last_result(conn.execute(sql.encode()))  # no parameters: several statements may run
                conn.commit()
                return rows
        except psycopg.Error as err:
            # The message is PostgreSQL's; the connection string (with its password) is never part of it.
            detail = err.diag.message_primary if err.diag and err.diag.message_primary else type(err).__name__
            raise SqlError(f"Supabase {what}: PostgreSQL refused it: {detail}") from None


def last_result(cursor: Any) -> list[dict[str, Any]]:
    """The rows of the last statement a psycopg cursor ran (none if it returns none)."""
    while True:
        rows = cursor.fetchall() if cursor.description else []
        if not cursor.nextset():
            return rows


def ident(name: str) -> str:
    """One quoted identifier (a policy, role, extension or schema name), dots and all: a policy named
    ``v1.2 read`` is that name, not a schema and a name."""
    return postgres_identifier(name)


def table_ident(table: str) -> str:
    """A table, ``schema.table`` (the model's tables have no dots but that one), as ``"schema"."table"``."""
    return ".".join(postgres_identifier(part) for part in table_name(table).split(".", 1))


def literal(text: str) -> str:
    return postgres_literal(text)


def table_name(table: str) -> str:
    """``documents`` is ``public.documents``."""
    return table if "." in table else f"public.{table}"
