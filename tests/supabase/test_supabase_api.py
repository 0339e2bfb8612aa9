"""The Supabase settings providers against a loopback Management API that checks every request
against Supabase's published OpenAPI spec (tests/helpers/fake_supabase.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.fake_supabase import FakeSupabase
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from components.supabase.api import ManagementApi, SupabaseApiError
from components.supabase.providers import EdgeSecretsProvider, SettingsProvider, SupabaseProvider

REF = "abcdefghijklmnopqrst"


@pytest.fixture
def fake() -> Iterator[FakeSupabase]:
    with FakeSupabase([REF]) as server:
        yield server
    assert server.violations == [], "requests or answers outside Supabase's published spec"


def configured(cls: type[SupabaseProvider], fake: FakeSupabase) -> SupabaseProvider:
    """A provider as the engine hands it over: unpickled, then configured with the stack's config."""
    provider = cls(fake.url, "supabaseAccessToken", backoff=0.0)
    provider.configure(ConfigureRequest(Config({"stackyard:supabaseAccessToken": fake.token}, "stackyard")))
    return provider


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def auth_props(**values: object) -> dict:
    return {"projectRef": REF, "area": "auth", "values": values, "secretValues": {}}


# --- settings documents --------------------------------------------------------------------


def test_auth_settings_round_trip_create_read_update(fake: FakeSupabase) -> None:
    provider = configured(SettingsProvider, fake)
    props = {**auth_props(site_url="https://app.example.com", jwt_exp=1800, uri_allow_list="https://app.example.com/**",
                          external_github_enabled=True, external_github_client_id="Iv1.0123456789abcdef"),
             "secretValues": {"external_github_secret": "github-oauth-client-secret"}}
    created = provider.create(props)

    assert created.id == f"{REF}/auth"
    live = fake.projects[REF].auth
    assert (live["site_url"], live["jwt_exp"]) == ("https://app.example.com", 1800)
    assert live["external_github_enabled"] is True
    assert live["external_github_secret"] == "github-oauth-client-secret"
    assert created.outs["values"]["jwt_exp"] == 1800
    assert created.outs["secretDigests"] == {"external_github_secret": sha("github-oauth-client-secret")}
    assert "github-oauth-client-secret" not in json.dumps(created.outs)
    assert provider.diff(created.id, created.outs, props).changes is False

    # Only the keys the stack sets are written: the defaults of everything else stay untouched.
    patch = fake.calls("PATCH", "/config/auth")[0].body
    assert set(patch) == {"site_url", "jwt_exp", "uri_allow_list", "external_github_enabled",
                          "external_github_client_id", "external_github_secret"}

    changed = {**props, "values": {**props["values"], "jwt_exp": 3600}}
    assert provider.diff(created.id, created.outs, changed).changes is True
    updated = provider.update(created.id, created.outs, changed)
    assert fake.calls("PATCH", "/config/auth")[-1].body == {"jwt_exp": 3600}
    assert updated.outs["values"]["jwt_exp"] == 3600


def test_refresh_sees_a_setting_changed_in_the_dashboard(fake: FakeSupabase) -> None:
    provider = configured(SettingsProvider, fake)
    props = auth_props(site_url="https://app.example.com", jwt_exp=1800)
    created = provider.create(props)
    fake.projects[REF].auth["jwt_exp"] = 86400  # someone edits it by hand

    refreshed = provider.read(created.id, created.outs)

    assert refreshed.outs["values"] == {"site_url": "https://app.example.com", "jwt_exp": 86400}
    assert provider.diff(created.id, refreshed.outs, props).changes is True
    provider.update(created.id, refreshed.outs, props)
    assert fake.projects[REF].auth["jwt_exp"] == 1800


def test_a_rotated_oauth_secret_is_noticed_by_its_digest(fake: FakeSupabase) -> None:
    provider = configured(SettingsProvider, fake)
    props = {**auth_props(external_google_enabled=True), "secretValues": {"external_google_secret": "one"}}
    created = provider.create(props)
    rotated = {**props, "secretValues": {"external_google_secret": "two"}}

    assert provider.diff(created.id, created.outs, props).changes is False
    assert provider.diff(created.id, created.outs, rotated).changes is True
    provider.update(created.id, created.outs, rotated)
    assert fake.calls("PATCH", "/config/auth")[-1].body == {"external_google_secret": "two"}


def test_postgrest_schemas_compare_as_lists_not_text(fake: FakeSupabase) -> None:
    provider = configured(SettingsProvider, fake)
    props = {"projectRef": REF, "area": "postgrest", "values": {"db_schema": "public,graphql_public", "max_rows": 500},
             "secretValues": {}}
    created = provider.create(props)
    fake.projects[REF].postgrest["db_schema"] = "public, graphql_public"  # the same setting, spelt with a space

    refreshed = provider.read(created.id, created.outs)

    assert fake.projects[REF].postgrest["max_rows"] == 500
    assert provider.diff(created.id, refreshed.outs, props).changes is False
    assert "jwt_secret" not in json.dumps(refreshed.outs)  # the GET answer carries it; state never does


def test_network_restrictions_and_ssl_enforcement(fake: FakeSupabase) -> None:
    network = configured(SettingsProvider, fake)
    props = {"projectRef": REF, "area": "network", "secretValues": {},
             "values": {"dbAllowedCidrs": ["203.0.113.0/24"], "dbAllowedCidrsV6": ["2001:db8::/32"]}}
    created = network.create(props)
    assert fake.projects[REF].network == props["values"]
    assert network.diff(created.id, created.outs, props).changes is False

    ssl = {"projectRef": REF, "area": "ssl", "values": {"database": True}, "secretValues": {}}
    enforced = network.create(ssl)
    assert fake.projects[REF].ssl is True
    assert fake.calls("PUT", "/ssl-enforcement")[0].body == {"requestedConfig": {"database": True}}
    fake.projects[REF].ssl = False
    assert network.diff(enforced.id, network.read(enforced.id, enforced.outs).outs, ssl).changes is True


def test_editing_one_allowed_cidr_list_keeps_the_other(fake: FakeSupabase) -> None:
    """Network restrictions' ``apply`` replaces the whole document: an update that sent only the changed
    list reset the other one, and every later ``up`` flipped between the two."""
    network = configured(SettingsProvider, fake)
    old = {"projectRef": REF, "area": "network", "secretValues": {},
           "values": {"dbAllowedCidrs": ["203.0.113.0/24"], "dbAllowedCidrsV6": ["2001:db8::/32"]}}
    created = network.create(old)
    outs = created.outs
    for values in ({"dbAllowedCidrs": ["203.0.113.0/24"], "dbAllowedCidrsV6": ["2001:db8:1::/48"]},
                   {"dbAllowedCidrs": ["198.51.100.0/24"], "dbAllowedCidrsV6": ["2001:db8:1::/48"]}):
        new = {**old, "values": values}
        assert network.diff(created.id, outs, new).changes is True
        updated = network.update(created.id, outs, new)
        assert fake.projects[REF].network == values
        outs = network.read(created.id, updated.outs).outs
        assert network.diff(created.id, outs, new).changes is False


def test_deleting_a_settings_resource_leaves_the_settings_alone(fake: FakeSupabase) -> None:
    provider = configured(SettingsProvider, fake)
    created = provider.create(auth_props(site_url="https://app.example.com"))
    before = len(fake.requests)
    provider.delete(created.id, created.outs)
    assert len(fake.requests) == before
    assert fake.projects[REF].auth["site_url"] == "https://app.example.com"


# --- edge-function secrets -----------------------------------------------------------------


def test_edge_secrets_create_update_delete_by_digest(fake: FakeSupabase) -> None:
    provider = configured(EdgeSecretsProvider, fake)
    fake.projects[REF].secrets["SET_BY_HAND"] = (sha("x"), "2026-01-01T00:00:00Z")
    props = {"projectRef": REF, "secrets": {"JWT_SECRET_KEY": "jwt-1", "MIVAA_API_KEY": "mivaa-1"}}
    created = provider.create(props)

    assert {n: d for n, (d, _) in fake.projects[REF].secrets.items()} == {
        "SET_BY_HAND": sha("x"), "JWT_SECRET_KEY": sha("jwt-1"), "MIVAA_API_KEY": sha("mivaa-1")}
    assert created.outs == {"projectRef": REF, "digests": {"JWT_SECRET_KEY": sha("jwt-1"),
                                                           "MIVAA_API_KEY": sha("mivaa-1")}}
    assert provider.diff(created.id, provider.read(created.id, created.outs).outs, props).changes is False

    news = {"projectRef": REF, "secrets": {"JWT_SECRET_KEY": "jwt-2", "NEW_ONE": "n"}}
    assert provider.diff(created.id, created.outs, news).changes is True
    updated = provider.update(created.id, created.outs, news)
    assert fake.calls("POST", "/secrets")[-1].body == [{"name": "JWT_SECRET_KEY", "value": "jwt-2"},
                                                       {"name": "NEW_ONE", "value": "n"}]
    assert fake.calls("DELETE", "/secrets")[-1].body == ["MIVAA_API_KEY"]
    assert sorted(fake.projects[REF].secrets) == ["JWT_SECRET_KEY", "NEW_ONE", "SET_BY_HAND"]

    provider.delete(created.id, updated.outs)
    assert sorted(fake.projects[REF].secrets) == ["SET_BY_HAND"]  # what the stack never named stays
    assert all("jwt-" not in json.dumps(r.body) for r in fake.calls("GET"))


def test_refresh_notices_an_edge_secret_deleted_or_changed_by_hand(fake: FakeSupabase) -> None:
    provider = configured(EdgeSecretsProvider, fake)
    props = {"projectRef": REF, "secrets": {"A": "1", "B": "2"}}
    created = provider.create(props)
    del fake.projects[REF].secrets["A"]
    fake.projects[REF].secrets["B"] = (sha("changed"), "2026-01-01T00:00:00Z")

    refreshed = provider.read(created.id, created.outs)

    assert refreshed.outs["digests"] == {"B": sha("changed")}
    assert provider.diff(created.id, refreshed.outs, props).changes is True
    provider.update(created.id, refreshed.outs, props)
    assert {n: d for n, (d, _) in fake.projects[REF].secrets.items()} == {"A": sha("1"), "B": sha("2")}


# --- errors and retries --------------------------------------------------------------------


def test_429_and_5xx_are_retried_until_they_pass(fake: FakeSupabase) -> None:
    provider = configured(SettingsProvider, fake)
    fake.fail_next("patch", "/config/auth", 429, times=2)
    fake.fail_next("get", "/config/auth", 503, times=1)

    provider.create(auth_props(site_url="https://app.example.com"))

    assert [r.status for r in fake.calls(suffix="/config/auth")] == [429, 429, 200, 503, 200]
    assert fake.projects[REF].auth["site_url"] == "https://app.example.com"


def test_retries_back_off_and_honour_retry_after(fake: FakeSupabase) -> None:
    waits: list[float] = []
    api = ManagementApi(fake.url, fake.token, backoff=0.5, attempts=4, sleep=waits.append)
    fake.fail_next("get", "/postgrest", 500, times=2)
    fake.fail_next("get", "/postgrest", 429, times=1, retry_after="7")

    api.request("GET", f"/v1/projects/{REF}/postgrest", what="API settings")

    assert len(waits) == 3
    assert 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0  # doubling, with jitter
    assert waits[2] == 7.0


def test_a_persistent_5xx_fails_after_the_last_attempt(fake: FakeSupabase) -> None:
    api = ManagementApi(fake.url, fake.token, attempts=3, sleep=lambda _: None)
    fake.fail_next("get", "/secrets", 500, times=10)
    with pytest.raises(SupabaseApiError, match=r"edge-function secrets: GET .*/secrets failed \(HTTP 500\)"):
        api.request("GET", f"/v1/projects/{REF}/secrets", what="edge-function secrets")
    assert len(fake.calls("GET", "/secrets")) == 3


def test_a_4xx_fails_at_once_naming_the_setting_and_never_the_token(fake: FakeSupabase) -> None:
    provider = configured(SettingsProvider, fake)
    fake.fail_next("patch", "/postgrest", 403)
    with pytest.raises(SupabaseApiError) as err:
        provider.create({"projectRef": REF, "area": "postgrest", "values": {"max_rows": 10}, "secretValues": {}})
    assert f"API (PostgREST) settings: PATCH /v1/projects/{REF}/postgrest failed (HTTP 403)" in str(err.value)
    assert fake.token not in str(err.value)
    assert len(fake.calls("PATCH", "/postgrest")) == 1


def test_a_wrong_token_is_a_401_with_the_setting_named(fake: FakeSupabase) -> None:
    provider = SettingsProvider(fake.url, "supabaseAccessToken", backoff=0.0)
    provider.configure(ConfigureRequest(Config({"stackyard:supabaseAccessToken": "sbp_" + "0" * 40}, "stackyard")))
    with pytest.raises(SupabaseApiError, match=r"auth settings: PATCH .* \(HTTP 401\): Unauthorized"):
        provider.create(auth_props(site_url="https://app.example.com"))


def test_without_a_token_the_error_says_how_to_set_it(fake: FakeSupabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPABASE_ACCESS_TOKEN", raising=False)
    provider = SettingsProvider(fake.url, "supabaseAccessToken")
    provider.configure(ConfigureRequest(Config({}, "stackyard")))
    with pytest.raises(RuntimeError, match=r"pulumi config set --secret stackyard:supabaseAccessToken"):
        provider.create(auth_props(site_url="https://app.example.com"))


# --- the fake itself -------------------------------------------------------------------------


def test_the_fake_rejects_what_the_spec_rejects() -> None:
    """A negative control: the validation the other tests rely on is live."""
    with FakeSupabase([REF]) as fake:
        api = ManagementApi(fake.url, fake.token, attempts=1)
        for method, path, body in [
            ("PUT", "/ssl-enforcement", {"database": True}),  # not wrapped in requestedConfig
            ("POST", "/secrets", [{"name": "SUPABASE_URL", "value": "x"}]),  # reserved prefix
            ("PATCH", "/postgrest", {"max_rows": "many"}),  # wrong type
            ("PATCH", "/config/auth", {"jwt_expiry": 3600}),  # not a key of the schema
        ]:
            with pytest.raises(SupabaseApiError, match="HTTP 400"):
                api.request(method, f"/v1/projects/{REF}{path}", body, what="test")
        assert len(fake.violations) == 4


def test_the_spec_copy_matches_the_published_one() -> None:
    from helpers.fake_supabase import SPEC

    # beside the clone, or in the workplace's shared folder (a clone made elsewhere, as CI's may be)
    candidates = [SPEC.parents[3] / "shared" / "specs" / SPEC.name, Path("/work/shared/specs") / SPEC.name]
    published = next((path for path in candidates if path.exists()), None)
    if published is None:
        pytest.skip(f"{candidates[0]} is not beside this clone; the copy in tests/specs is used as is")
    assert SPEC.read_bytes() == published.read_bytes()
