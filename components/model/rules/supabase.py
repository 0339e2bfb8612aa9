"""Rules for a system's Supabase settings: what the Management API and PostgreSQL would refuse."""

from __future__ import annotations

import os

from ..migrations import read_migrations
from ..topology import SUPABASE_API_URL, Supabase, System
from .findings import Findings

# Providers with an OAuth client (external_<name>_client_id/_secret in the Management API).
OAUTH_PROVIDERS = (
    "apple", "azure", "bitbucket", "discord", "facebook", "figma", "github", "gitlab", "google", "kakao",
    "keycloak", "linkedin_oidc", "notion", "slack", "slack_oidc", "spotify", "twitch", "twitter", "workos",
    "x", "zoom",
)
PROVIDERS_WITH_URL = ("azure", "gitlab", "keycloak", "workos")
API_URL_ENV = "STACKYARD_SUPABASE_API_URL"
"""The one Management API URL besides Supabase's a stack may name, set where the program runs (a test's
stand-in). The stack file alone cannot name another: every Supabase request carries the account-wide
access token, and a preview runs a pull request's stack file with the token CI decrypts."""
MAX_JWT_EXPIRY = 604800
MAX_ROWS = 1000000


def check_supabase(rules: Findings, path: str, system: System) -> None:
    supabase: Supabase | None = system.supabase
    if supabase is None:
        return
    path = f"{path}.supabase"
    rules.check_value(f"{path}.accessToken", system, supabase.access_token)
    if supabase.api_url not in (SUPABASE_API_URL, os.environ.get(API_URL_ENV) or SUPABASE_API_URL):
        rules.fail(f"{path}.apiUrl", f"the access token goes to {SUPABASE_API_URL} only: another URL would "
                                     "receive it (a pull request's stack file could name any). For a stand-in of "
                                     f"the API, export {API_URL_ENV}=<its URL> where the program runs")
    elif supabase.api_url.startswith("http://"):
        rules.warn(f"{path}.apiUrl: http:// sends the access token in clear: use https")
    auth = supabase.auth
    if auth is not None:
        for i, url in enumerate(auth.redirect_urls or ()):
            if url is not None and ("," in url or not url.strip()):
                rules.fail(f"{path}.auth.redirectUrls[{i}]", "one URL per entry, without commas")
        if auth.jwt_expiry is not None and not 0 < auth.jwt_expiry <= MAX_JWT_EXPIRY:
            rules.fail(f"{path}.auth.jwtExpiry", f"seconds between 1 and {MAX_JWT_EXPIRY} (7 days)")
        for name, provider in (auth.external or {}).items():
            ppath = f"{path}.auth.external.{name}"
            if name not in OAUTH_PROVIDERS:
                rules.fail(ppath, f"unknown OAuth provider; known: {', '.join(OAUTH_PROVIDERS)}")
                continue
            if provider is None:
                continue
            if provider.enabled and (provider.client_id is None or provider.secret is None):
                rules.fail(ppath, "an enabled provider needs clientId and secret")
            if provider.secret is not None:
                rules.check_value(f"{ppath}.secret", system, provider.secret)
            if provider.url is not None and name not in PROVIDERS_WITH_URL:
                rules.fail(f"{ppath}.url", f"only {', '.join(PROVIDERS_WITH_URL)} take a url")
    max_rows = supabase.api.max_rows if supabase.api is not None else None
    if max_rows is not None and not 1 <= max_rows <= MAX_ROWS:
        rules.fail(f"{path}.api.maxRows", f"between 1 and {MAX_ROWS}")
    for key, value in (supabase.secrets or {}).items():
        spath = f"{path}.secrets.{key}"
        if key.upper().startswith("SUPABASE_"):
            rules.fail(spath, "Supabase sets SUPABASE_* in edge functions itself and refuses secrets named so")
        rules.check_value(spath, system, value)
    if supabase.database is not None:
        check_database(rules, f"{path}.database", system, supabase)


def check_database(rules: Findings, path: str, system: System, supabase: Supabase) -> None:
    database = supabase.database
    assert database is not None  # check_supabase checks a database only where there is one
    if database.via == "postgres" and database.url is None:
        rules.fail(f"{path}.url", "required with via: postgres: the secret holding the connection URI")
    elif database.via == "api" and database.url is not None:
        rules.fail(f"{path}.url", "only used with via: postgres (via: api runs SQL with the access token)")
    if database.url is not None:
        rules.check_value(f"{path}.url", system, database.url)
    for key, items in (("extensions", database.extensions), ("rowLevelSecurity", database.row_level_security)):
        seen: set[str] = set()
        for i, item in enumerate(items or ()):
            if item is not None and qualified(item) in seen:
                rules.fail(f"{path}.{key}[{i}]", f"'{item}' is listed twice")
            seen.add(qualified(item) if item else "")
    protected = {qualified(t) for t in database.row_level_security or () if t}
    policies: dict[tuple[str, str], int] = {}
    for i, policy in enumerate(database.policies or ()):
        if policy is None or policy.table is None or policy.name is None:
            continue
        ppath = f"{path}.policies[{i}]"
        key = (qualified(policy.table), policy.name)
        if key in policies:
            rules.fail(f"{ppath}.name",
                       f"policy '{policy.name}' on {policy.table} is also at policies[{policies[key]}]")
        policies.setdefault(key, i)
        # PostgreSQL cuts a name at 63 bytes, not characters: two longer names sharing those bytes are one
        # policy, and the second would silently replace the first.
        if not policy.name.strip() or len(policy.name.encode()) > 63:
            rules.fail(f"{ppath}.name", "between 1 and 63 bytes (PostgreSQL cuts names at 63 bytes; "
                                        f"this one has {len(policy.name.encode())})")
        if policy.using is None and policy.check is None:
            rules.fail(ppath, "a policy needs using, check or both")
        if policy.command == "insert" and policy.using is not None:
            rules.fail(f"{ppath}.using", "insert policies take only check (PostgreSQL has no USING for INSERT)")
        if policy.command in ("select", "delete") and policy.check is not None:
            rules.fail(f"{ppath}.check", f"{policy.command} policies take only using")
        if qualified(policy.table) not in protected:
            rules.warn(f"{ppath}: row-level security is not enabled on {policy.table} by this stack, "
                                  "so the policy has no effect unless it is enabled elsewhere")
    if database.migrations is not None:
        _, problems = read_migrations(database.migrations)
        for problem in problems:
            rules.fail(f"{path}.migrations", problem)


def qualified(table: str) -> str:
    """``documents`` and ``public.documents`` are the same table."""
    return table if "." in table else f"public.{table}"
