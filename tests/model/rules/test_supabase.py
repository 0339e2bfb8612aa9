"""components/model/rules/supabase.py, called directly: where the token goes, auth, the database's
extensions and policies."""

from __future__ import annotations

import pytest
from helpers.rules import paths, system

from components.model.rules.supabase import check_supabase

BASE = "supabase:\n  projectRef: abcdefghijklmnopqrst\n  accessToken: {secret: supabaseToken}\n"


def supabase(text: str = "", plain: tuple[str, ...] = ()) -> tuple:
    findings, read = system(BASE + text, plain=plain)
    check_supabase(findings, "systems.shop", read)
    return findings


def test_a_project_with_its_token_passes():
    assert paths(supabase()) == []


def test_a_token_in_plain_text_is_refused_at_its_path():
    assert paths(supabase(plain=("supabaseToken",))) == ["systems.shop.supabase.accessToken"]


@pytest.mark.parametrize("url", ["https://api.supabase.com.attacker.example", "http://127.0.0.1:8080",
                                 "https://attacker.example/v1"])
def test_the_token_goes_to_supabases_api_only(url):
    assert paths(supabase(f"  apiUrl: '{url}'\n")) == ["systems.shop.supabase.apiUrl"]


@pytest.mark.parametrize("key", ["SUPABASE_URL", "supabase_anything"])
def test_secrets_named_supabase_are_refused(key):
    assert paths(supabase(f"  secrets: {{{key}: x}}\n")) == [f"systems.shop.supabase.secrets.{key}"]


@pytest.mark.parametrize("expiry, ok", [(1, True), (604800, True), (604801, False)])
def test_jwt_expiry_is_at_most_seven_days(expiry, ok):
    found = paths(supabase(f"  auth: {{jwtExpiry: {expiry}}}\n"))
    assert found == ([] if ok else ["systems.shop.supabase.auth.jwtExpiry"])


def test_an_enabled_oauth_provider_needs_its_client_and_secret():
    assert paths(supabase("  auth: {external: {github: {enabled: true}}}\n")) == [
        "systems.shop.supabase.auth.external.github"]


@pytest.mark.parametrize("tables", [("documents", "documents"), ("documents", "public.documents")])
def test_a_table_listed_twice_under_either_name_is_refused(tables):
    text = f"  database: {{via: api, rowLevelSecurity: [{tables[0]}, {tables[1]}]}}\n"
    assert paths(supabase(text)) == ["systems.shop.supabase.database.rowLevelSecurity[1]"]


def test_policy_names_are_cut_at_63_bytes_not_characters():
    # 32 two-byte characters: 32 characters, 64 bytes. PostgreSQL would cut it.
    name = "é" * 32
    text = (f"  database:\n    via: api\n    rowLevelSecurity: [documents]\n    policies:\n"
            f"      - {{table: documents, name: '{name}', command: select, using: 'true'}}\n")
    assert paths(supabase(text)) == ["systems.shop.supabase.database.policies[0].name"]


@pytest.mark.parametrize("command, clause, path", [("insert", "using: 'true'", "using"),
                                                   ("select", "check: 'true'", "check"),
                                                   ("delete", "check: 'true'", "check")])
def test_a_policy_takes_only_the_clauses_postgresql_has_for_its_command(command, clause, path):
    text = (f"  database:\n    via: api\n    rowLevelSecurity: [documents]\n    policies:\n"
            f"      - {{table: documents, name: p, command: {command}, {clause}}}\n")
    assert paths(supabase(text)) == [f"systems.shop.supabase.database.policies[0].{path}"]
