"""SupabaseProject: a Supabase project's settings, secrets and database objects as Pulumi resources."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from ..model.migrations import read_migrations
from ..model.topology import Supabase, SupabaseAuth, SupabaseNetwork
from ..values import Resolver
from .providers import (
    EdgeSecretsProvider,
    ExtensionProvider,
    MigrationsProvider,
    PolicyProvider,
    RowLevelSecurityProvider,
    SettingsProvider,
    SupabaseProvider,
)
from .sql import table_name


def secret_digests(opts: pulumi.ResourceOptions, output: str) -> pulumi.ResourceOptions:
    """``opts``, with the output holding the secrets' digests kept secret: an unsalted sha256 of a short
    secret (a password) is found again offline by whoever reads the state, without its passphrase."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=[output]))


class Settings(Resource, module="supabase", name="Settings"):
    values: pulumi.Output[dict]
    secretDigests: pulumi.Output[dict]

    def __init__(self, name: str, provider: SettingsProvider, ref: str, area: str, values: dict[str, Any],
                 secret_values: dict[str, pulumi.Input[str]], opts: pulumi.ResourceOptions) -> None:
        props = {"apiUrl": provider.api_url, "projectRef": ref, "area": area, "values": values,
                 "secretValues": pulumi.Output.secret(secret_values) if secret_values else {},
                 "secretDigests": None}
        super().__init__(provider, name, props, secret_digests(opts, "secretDigests"))


class EdgeSecrets(Resource, module="supabase", name="EdgeSecrets"):
    digests: pulumi.Output[dict]

    def __init__(self, name: str, provider: EdgeSecretsProvider, ref: str, secrets: dict[str, pulumi.Input[str]],
                 opts: pulumi.ResourceOptions) -> None:
        super().__init__(provider, name, {"apiUrl": provider.api_url, "projectRef": ref,
                                          "secrets": pulumi.Output.secret(secrets), "digests": None},
                         secret_digests(opts, "digests"))


class Extension(Resource, module="supabase", name="Extension"):
    version: pulumi.Output[str]

    def __init__(self, name: str, provider: ExtensionProvider, ref: str, extension: str, schema: str,
                 opts: pulumi.ResourceOptions) -> None:
        super().__init__(provider, name, {"apiUrl": provider.api_url, "projectRef": ref, "name": extension,
                                          "schema": schema, "version": None}, opts)


class RowLevelSecurity(Resource, module="supabase", name="RowLevelSecurity"):
    enabled: pulumi.Output[bool]

    def __init__(self, name: str, provider: RowLevelSecurityProvider, ref: str, table: str,
                 opts: pulumi.ResourceOptions) -> None:
        super().__init__(provider, name, {"apiUrl": provider.api_url, "projectRef": ref, "table": table,
                                          "enabled": None}, opts)


class Policy(Resource, module="supabase", name="Policy"):
    live: pulumi.Output[dict]

    def __init__(self, name: str, provider: PolicyProvider, ref: str, spec: dict[str, Any],
                 opts: pulumi.ResourceOptions) -> None:
        super().__init__(provider, name, {"apiUrl": provider.api_url, "projectRef": ref, **spec, "live": None,
                                          "drifted": None}, opts)


class Migrations(Resource, module="supabase", name="Migrations"):
    applied: pulumi.Output[list]

    def __init__(self, name: str, provider: MigrationsProvider, ref: str, migrations: list[dict[str, str]],
                 opts: pulumi.ResourceOptions) -> None:
        super().__init__(provider, name, {"apiUrl": provider.api_url, "projectRef": ref, "migrations": migrations,
                                          "applied": None}, opts)


@dataclass
class SupabaseProjectArgs:
    spec: Supabase
    resolver: Resolver
    backoff: float = 1.0
    """Seconds before the first retry of a 429/5xx answer (doubling each time)."""


class SupabaseProject(pulumi.ComponentResource):
    """Settings documents, edge-function secrets, then the database: extensions, migrations (which may
    create tables), row-level security on those tables and the policies guarding them."""

    def __init__(self, name: str, args: SupabaseProjectArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stackyard:index:SupabaseProject", name, {}, opts)
        spec, resolver = args.spec, args.resolver
        ref = spec.project_ref
        database = spec.database
        dsn_key = None
        if database is not None and database.via == "postgres":
            assert database.url is not None  # the rules require url with via: postgres
            dsn_key = database.url.secret

        def provider(cls: type[SupabaseProvider]) -> Any:
            # The URL is also each resource's plain input (apiUrl), from this same provider: a change of it
            # is a change the preview shows, not one kept inside the pickled provider alone.
            return cls(spec.api_url, spec.access_token.secret, dsn_key, args.backoff)

        def named(what: str, **options: Any) -> tuple[str, pulumi.ResourceOptions]:
            """A resource's name and options. The name is the project's, not the system's: a system renamed
            without `formerly` would otherwise create each resource anew and then delete the old one, and
            those deletes drop the policy, the extension and the edge secrets the new ones had just made.
            The alias is the name stackyard gave it before, so a stack made then keeps its state."""
            return f"supabase-{ref}-{what}", pulumi.ResourceOptions(parent=self, aliases=[
                pulumi.Alias(name=f"{name}-{what}")], **options)

        self.settings: dict[str, Settings] = {}
        documents = {
            "auth": auth_fields(spec.auth, resolver) if spec.auth else None,
            "postgrest": (postgrest_fields(spec), {}) if spec.api else None,
            "network": network_fields(spec.network),
            "ssl": ({"database": spec.network.enforce_ssl}, {})
            if spec.network and spec.network.enforce_ssl is not None else None,
        }
        for area, fields in documents.items():
            if fields is not None and (fields[0] or fields[1]):
                label, opts = named(area)
                self.settings[area] = Settings(label, provider(SettingsProvider), ref, area, fields[0], fields[1],
                                               opts)

        self.edge_secrets = None
        if spec.secrets:
            label, opts = named("edge-secrets")
            self.edge_secrets = EdgeSecrets(
                label, provider(EdgeSecretsProvider), ref,
                {key: resolver.resolve(value) for key, value in spec.secrets.items()}, opts)

        self.extensions: dict[str, Extension] = {}
        self.migrations = None
        self.row_level_security: dict[str, RowLevelSecurity] = {}
        self.policies: list[Policy] = []
        if database is None:
            self.register_outputs({})
            return
        for extension in database.extensions:
            label, opts = named(f"extension-{extension}")
            self.extensions[extension] = Extension(label, provider(ExtensionProvider), ref, extension,
                                                   database.extension_schema, opts)
        schema_ready: list[pulumi.Resource] = list(self.extensions.values())
        if database.migrations is not None:
            files, _ = read_migrations(database.migrations)
            label, opts = named("migrations", depends_on=schema_ready)
            self.migrations = Migrations(
                label, provider(MigrationsProvider), ref,
                [{"name": m.name, "checksum": m.checksum, "sql": m.sql} for m in files], opts)
            schema_ready = [self.migrations]
        # Taking a table out of the list must not open it: by default its RLS stays on, and the resource
        # only leaves the state (retain_on_delete); `rlsOnRemoval: disable` asks for the provider's delete.
        keep = database.rls_on_removal == "keep"
        for table in database.row_level_security:
            label, opts = named(f"rls-{slug(table_name(table))}", depends_on=schema_ready, retain_on_delete=keep)
            self.row_level_security[table_name(table)] = RowLevelSecurity(
                label, provider(RowLevelSecurityProvider), ref, table_name(table), opts)
        for policy in database.policies:
            guard = self.row_level_security.get(table_name(policy.table))
            label, opts = named(f"policy-{slug(table_name(policy.table))}-{slug(policy.name)}",
                                depends_on=[*schema_ready, *([guard] if guard else [])])
            self.policies.append(Policy(
                label, provider(PolicyProvider), ref,
                {"table": table_name(policy.table), "name": policy.name, "command": policy.command,
                 "roles": sorted(policy.roles), "using": policy.using, "check": policy.check,
                 "permissive": policy.permissive}, opts))
        self.register_outputs({})


def auth_fields(auth: SupabaseAuth, resolver: Resolver) -> tuple[dict[str, Any], dict[str, pulumi.Input[str]]]:
    """The Management API's auth keys for what the stack sets; client secrets apart."""
    values: dict[str, Any] = {}
    secrets: dict[str, pulumi.Input[str]] = {}
    if auth.site_url is not None:
        values["site_url"] = auth.site_url
    if auth.redirect_urls is not None:
        values["uri_allow_list"] = ",".join(auth.redirect_urls)
    if auth.jwt_expiry is not None:
        values["jwt_exp"] = auth.jwt_expiry
    if auth.disable_signup is not None:
        values["disable_signup"] = auth.disable_signup
    for provider, spec in sorted(auth.external.items()):
        values[f"external_{provider}_enabled"] = spec.enabled
        if spec.client_id is not None:
            values[f"external_{provider}_client_id"] = spec.client_id
        if spec.url is not None:
            values[f"external_{provider}_url"] = spec.url
        if spec.secret is not None:
            secrets[f"external_{provider}_secret"] = resolver.resolve(spec.secret)
    return values, secrets


def postgrest_fields(spec: Supabase) -> dict[str, Any]:
    api = spec.api
    assert api is not None  # asked only of a project with api settings
    values: dict[str, Any] = {}
    if api.schemas is not None:
        values["db_schema"] = ",".join(api.schemas)
    if api.extra_search_path is not None:
        values["db_extra_search_path"] = ",".join(api.extra_search_path)
    if api.max_rows is not None:
        values["max_rows"] = api.max_rows
    return values


def network_fields(network: SupabaseNetwork | None) -> tuple[dict[str, Any], dict] | None:
    if network is None or network.allowed_cidrs is None:
        return None
    nets = [ipaddress.ip_network(cidr) for cidr in network.allowed_cidrs]
    return ({"dbAllowedCidrs": [str(n) for n in nets if n.version == 4],
             "dbAllowedCidrsV6": [str(n) for n in nets if n.version == 6]}, {})


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
