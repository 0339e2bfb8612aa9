"""A stand-in for the Supabase Management API on loopback, checked against Supabase's published spec.

Every request is validated against ``shared/specs/supabase-management-api.openapi.json`` with
openapi-core (path parameters, body schema, and no keys the schema does not declare), and every
answer it gives is validated as a response of that operation. Anything off is recorded in
``violations`` and answered 400, so a test can assert there were none. State is simulated per
project: auth and PostgREST settings, edge-function secrets (listed by sha256 digest, as Supabase
does), network restrictions and SSL enforcement. SQL sent to ``/database/query`` runs on a real
PostgreSQL through ``sql``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from components.model.rules.supabase import API_URL_ENV

# A copy of ../shared/specs/supabase-management-api.openapi.json, so a clone on its own can run the tests.
SPEC = Path(__file__).resolve().parents[1] / "specs" / "supabase-management-api.openapi.json"

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "supabase"
WORKSPACE_POLICY = "workspace_id IN (SELECT workspace_id FROM user_workspaces WHERE user_id = auth.uid())"
"""Seed 004's policy condition."""

SqlExecutor = Callable[[str], list[dict[str, Any]]]

KAI_REF = "kaiprojectrefabcdefg"
KAI_SECRETS = {"jwtSecretKey": "jwt-secret-one", "mivaaApiKey": "mivaa-key-one", "githubOauth": "github-oauth-one"}


def kai_project(api_url: str, migrations: str = "tests/fixtures/supabase/migrations") -> dict[str, Any]:
    """A whole Supabase project in a stack file: seed 004's setup plus every settings area, an OAuth
    provider, and migrations (``tests/fixtures/supabase/plain-migrations`` has tables without extension
    types, so a `destroy` can drop the extensions too). Its secrets are named in KAI_SECRETS."""
    return {
        "projectRef": KAI_REF,
        "apiUrl": api_url,
        "auth": {"siteUrl": "https://kai.example.com", "jwtExpiry": 3600,
                 "external": {"github": {"clientId": "Iv1.0123456789abcdef", "secret": {"secret": "githubOauth"}}}},
        "api": {"schemas": ["public", "graphql_public"], "maxRows": 1000},
        "network": {"allowedCidrs": ["203.0.113.0/24"], "enforceSsl": True},
        "secrets": {"JWT_SECRET_KEY": {"secret": "jwtSecretKey"}, "MIVAA_API_KEY": {"secret": "mivaaApiKey"}},
        "database": {
            "extensions": ["uuid-ossp", "vector", "ltree"],
            "migrations": migrations,
            "rowLevelSecurity": ["documents", "api_keys"],
            "policies": [{"name": "Users can only access their workspace data", "table": "documents",
                          "using": WORKSPACE_POLICY}],
        },
    }


def fake_token() -> str:
    """A personal access token in Supabase's shape: sbp_ and 40 hex digits."""
    return "sbp_" + secrets.token_hex(20)


def load_spec() -> dict[str, Any]:
    return json.loads(SPEC.read_text())


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    status: int


@dataclass
class Fault:
    method: str
    path_suffix: str
    status: int
    times: int
    retry_after: str | None = None


@dataclass
class Project:
    auth: dict[str, Any]
    postgrest: dict[str, Any]
    secrets: dict[str, tuple[str, str]] = field(default_factory=dict)
    network: dict[str, list[str]] = field(default_factory=lambda: {"dbAllowedCidrs": ["0.0.0.0/0"],
                                                                   "dbAllowedCidrsV6": ["::/0"]})
    ssl: bool = False


class FakeSupabase:
    def __init__(self, refs: list[str], sql: SqlExecutor | None = None) -> None:
        self.spec = load_spec()
        self.openapi = OpenAPI.from_dict(self.spec, config=Config(spec_validator_cls=None))
        self.token = fake_token()
        self.sql = sql
        self.projects = {ref: Project(auth=self._auth_defaults(), postgrest=self._postgrest_defaults())
                         for ref in refs}
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> FakeSupabase:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        # A stack may name this URL as its apiUrl while the fake runs (the program, in process or under
        # the pulumi CLI, inherits the variable); any other URL but Supabase's stays refused.
        self._allowed = os.environ.get(API_URL_ENV)
        os.environ[API_URL_ENV] = self.url
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        if self._allowed is None:
            os.environ.pop(API_URL_ENV, None)
        else:
            os.environ[API_URL_ENV] = self._allowed
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, method: str, path_suffix: str, status: int, times: int = 1,
                  retry_after: str | None = None) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of serving them."""
        self.faults.append(Fault(method, path_suffix, status, times, retry_after))

    def calls(self, method: str | None = None, suffix: str = "") -> list[Recorded]:
        return [r for r in self.requests if (method is None or r.method == method) and r.path.endswith(suffix)]

    # --- defaults from the spec -----------------------------------------------------------

    def _defaults(self, schema_name: str) -> dict[str, Any]:
        schema = self.spec["components"]["schemas"][schema_name]
        kinds = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}
        # A nullable enum still has to be one of its values for openapi-core: take the first.
        return {key: prop["enum"][0] if "enum" in prop
                else None if prop.get("nullable") else kinds.get(prop.get("type"))
                for key, prop in schema["properties"].items()}

    def _auth_defaults(self) -> dict[str, Any]:
        return {**self._defaults("AuthConfigResponse"), "site_url": "http://localhost:3000", "jwt_exp": 3600,
                "uri_allow_list": "", "disable_signup": False, "external_email_enabled": True}

    def _postgrest_defaults(self) -> dict[str, Any]:
        return {"db_schema": "public,graphql_public", "max_rows": 1000, "db_extra_search_path": "public,extensions",
                "db_pool": None, "jwt_secret": "super-secret-jwt-token-with-at-least-32-characters"}

    # --- requests -------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        method = handler.command.lower()
        path = handler.path.split("?", 1)[0]
        content_type = (handler.headers.get("Content-Type") or "").split(";")[0] or None
        request = MockRequest(self.url, method, path, data=raw or None,
                              headers={k: v for k, v in handler.headers.items()}, content_type=content_type)
        body = json.loads(raw) if raw else None
        status, answer, headers = self._answer(handler, request, method, path, body)
        with self._lock:
            self.requests.append(Recorded(method.upper(), path, body, status))
        data = json.dumps(answer, default=str).encode() if answer is not None else b""
        if 200 <= status < 300 and status != 400:
            self._check_response(request, status, data)
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        if data:
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(self, handler: BaseHTTPRequestHandler, request: MockRequest, method: str, path: str,
                body: Any) -> tuple[int, Any, dict[str, str]]:
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Unauthorized"}, {}
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method.lower() == method and path.endswith(fault.path_suffix):
                    fault.times -= 1
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    return fault.status, {"message": f"injected {fault.status}"}, headers
        problem = self._check_request(request, body)
        if problem:
            self.violations.append(f"{method.upper()} {path}: {problem}")
            return 400, {"message": problem}, {}
        match = re.fullmatch(r"/v1/projects/([a-z]{20})(/.*)", path)
        if match is None or match.group(1) not in self.projects:
            return 404, {"message": "project not found"}, {}
        project = self.projects[match.group(1)]
        with self._lock:
            return self._route(project, method, match.group(2), body)

    def _check_request(self, request: MockRequest, body: Any) -> str | None:
        try:
            self.openapi.validate_request(request)
        except Exception as err:
            return f"{type(err).__name__}: {err}"
        # The spec leaves additionalProperties open; the real API ignores keys it does not know,
        # which would hide a misspelt setting. Here an undeclared key is a violation.
        schema = self._request_schema(request.method, request.path)
        if isinstance(body, dict) and schema and schema.get("properties"):
            unknown = sorted(set(body) - set(schema["properties"]))
            if unknown:
                return f"keys not in the spec's request schema: {', '.join(unknown)}"
        return None

    def _request_schema(self, method: str, path: str) -> dict[str, Any] | None:
        for template, operations in self.spec["paths"].items():
            pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
            if re.match(pattern, path) and method in operations:
                content = (operations[method].get("requestBody") or {}).get("content", {})
                schema = content.get("application/json", {}).get("schema")
                while schema and "$ref" in schema:
                    schema = self.spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
                return schema
        return None

    def _check_response(self, request: MockRequest, status: int, data: bytes) -> None:
        response = MockResponse(data, status_code=status, content_type="application/json" if data else None)
        try:
            self.openapi.validate_response(request, response)
        except Exception as err:
            self.violations.append(f"answer to {request.method.upper()} {request.path}: {type(err).__name__}: {err}")

    # --- state ----------------------------------------------------------------------------

    def _route(self, project: Project, method: str, rest: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if rest == "/config/auth":
            if method == "patch":
                project.auth.update(body)
            return 200, project.auth, {}
        if rest == "/postgrest":
            if method == "patch":
                project.postgrest.update(body)
                return 200, {k: v for k, v in project.postgrest.items() if k != "jwt_secret"}, {}
            return 200, project.postgrest, {}
        if rest == "/secrets":
            if method == "get":
                return 200, [{"name": name, "value": digest, "updated_at": when}
                             for name, (digest, when) in sorted(project.secrets.items())], {}
            if method == "post":
                now = datetime.now(UTC).isoformat()
                for item in body:
                    project.secrets[item["name"]] = (hashlib.sha256(item["value"].encode()).hexdigest(), now)
                return 201, None, {}
            for name in body:
                project.secrets.pop(name, None)
            return 200, None, {}
        if rest == "/network-restrictions":
            return 200, {"entitlement": "allowed", "config": project.network, "status": "applied"}, {}
        if rest == "/network-restrictions/apply":
            project.network = {"dbAllowedCidrs": body.get("dbAllowedCidrs", []),
                               "dbAllowedCidrsV6": body.get("dbAllowedCidrsV6", [])}
            return 201, {"entitlement": "allowed", "config": project.network, "status": "stored"}, {}
        if rest == "/ssl-enforcement":
            if method == "put":
                project.ssl = body["requestedConfig"]["database"]
            return 200, {"currentConfig": {"database": project.ssl}, "appliedSuccessfully": True}, {}
        if rest == "/database/query" and method == "post":
            if self.sql is None:
                return 500, {"message": "no database behind this fake"}, {}
            try:
                return 201, self.sql(body["query"]), {}
            except Exception as err:  # PostgreSQL's message, the way the API words it
                return 400, {"message": f"Failed to run sql query: ERROR: {err}"}, {}
        return 404, {"message": f"not simulated: {method.upper()} {rest}"}, {}


def postgres_executor(dsn: str) -> SqlExecutor:
    """Runs a query the way the Management API does: one simple-protocol round trip, as postgres."""
    import psycopg
    from psycopg.rows import dict_row

    from components.supabase.sql import last_result

    def run(query: str) -> list[dict[str, Any]]:
        with psycopg.connect(dsn, row_factory=dict_row, autocommit=True) as conn:
            rows = last_result(conn.execute(query.encode()))
            return json.loads(json.dumps(rows, default=str))

    return run


def platform_database(postgres: Any) -> str:
    """A fresh database on the tests' PostgreSQL holding what Supabase gives every project (the API
    roles, auth.uid()): skips, naming them, when the extensions the tests use are not installed."""
    postgres.require_extensions("uuid-ossp", "ltree", "vector")
    name = postgres.create_database()
    with postgres.connect(name) as conn:
        conn.execute((FIXTURES / "platform.sql").read_text())
    return name


@contextmanager
def kai_world(postgres: Any) -> Iterator[tuple[FakeSupabase, str]]:
    """The fake API for the kai project, its SQL on a fresh platform database of ``postgres``; (fake, db name).
    Every request and answer must have matched the spec: any violation fails the caller at the end."""
    name = platform_database(postgres)
    with FakeSupabase([KAI_REF], sql=postgres_executor(postgres.admin_dsn(name))) as fake:
        yield fake, name
    assert fake.violations == []
