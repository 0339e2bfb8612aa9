"""components/model/connections.py: an accessory's connection values, and the URL a client reads back.

The passwords are generated, hundreds of them, from the characters a URL gives a meaning to (``@:/?#%``,
``[]``, ``&=+;,``), quotes, spaces, backslashes, non-ASCII text and the hostile corpus; each URL is read
back by the standard parser, and a sample of them by libpq itself, logging in to a real PostgreSQL.
"""

from __future__ import annotations

import random
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from helpers.hostile import HOSTILE
from helpers.postgres import PostgresServer
from helpers.rules import HOST, paths, system, with_host

from components.model import connections
from components.model.host_layout import ACCESSORY_PORTS
from components.model.parse import Reader
from components.model.rules.services import check_services
from components.model.topology import Settings

SPECIAL = "@:/?#[]%&=+;, !$'\"\\`*()<>{}|^~\t"
ALPHABET = SPECIAL + "abcXYZ019_-.é日本\u202e"


def passwords(count: int, seed: int = 7) -> list[str]:
    """``count`` generated passwords, then every hostile value a password can hold (not NUL: no server
    takes one)."""
    rng = random.Random(seed)
    made = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 40))) for _ in range(count)]
    return made + [value for value in HOSTILE.values() if "\x00" not in value]


@pytest.mark.parametrize("kind", sorted(ACCESSORY_PORTS))
def test_every_part_of_the_url_reads_back_as_it_was(kind: str) -> None:
    for password in passwords(300):
        user = None if kind == "redis" else "app"
        database = None if kind == "redis" else "app_db"
        text = connections.url(kind, user=user, password=password, database=database)
        read = urlsplit(text)
        assert read.scheme == kind
        assert (read.hostname, read.port) == ("127.0.0.1", ACCESSORY_PORTS[kind])
        assert unquote(read.password or "") == password, text
        assert (read.username or "") == (user or "")
        assert read.path == "/" + ("0" if kind == "redis" else "app_db")
        assert not read.query and not read.fragment, text  # nothing of the password leaked past the path
        assert password not in text or password == connections.encode(password)


def test_the_forms_of_each_kind() -> None:
    assert connections.url("postgresql", user="app", password="p@ss:/?#", database="app") == (
        "postgresql://app:p%40ss%3A%2F%3F%23@127.0.0.1:5432/app")
    assert connections.url("mysql", user="app", password="x", database=None) == "mysql://app:x@127.0.0.1:3306"
    assert connections.url("redis", user=None, password="a b", database=None) == "redis://:a%20b@127.0.0.1:6379/0"
    assert connections.url("redis", user=None, password=None, database=None) == "redis://127.0.0.1:6379/0"
    assert connections.value("mysql", "port", user=None, password=None, database=None) == "3306"
    assert connections.value("postgresql", "host", user=None, password=None, database=None) == "127.0.0.1"


def test_libpq_logs_in_with_each_url(postgres: PostgresServer) -> None:
    """libpq (psycopg's) reads the URL stackyard writes: the role logs in with its hostile password."""
    import psycopg
    from psycopg import sql

    database = postgres.create_database()
    for number, password in enumerate(passwords(40, seed=11)):
        role = f"app_{number}"
        with postgres.connect() as admin:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role),
                                                                              sql.Literal(password)))
        text = connections.url("postgresql", user=role, password=password, database=database)
        text = text.replace(f":{ACCESSORY_PORTS['postgresql']}/", f":{postgres.port}/")  # the throwaway's port
        with psycopg.connect(text, connect_timeout=5) as connection:
            assert connection.execute("SELECT current_user, current_database()").fetchone() == (role, database)


# --- the rules ---------------------------------------------------------------------------------

SERVICE = """services:
  app:
    host: web
    runtime: systemd
    source: {{repo: "https://git.example.org/app.git", ref: main}}
    command: ./run
    env: {env}
"""


def stack_text(accessories: str, env: str) -> str:
    """A stack's settings: one system, its host with ``accessories``, a service on it with ``env``."""
    text = with_host(SERVICE.format(env=env), HOST + f"accessories: {accessories}\n")
    return "systems:\n  shop:\n" + "\n".join("    " + line for line in text.strip("\n").splitlines()) + "\n"


def env_paths(accessories: str, env: str) -> list[str]:
    """The config paths the service rules refuse."""
    findings, read = system(with_host(SERVICE.format(env=env), HOST + f"accessories: {accessories}\n"))
    check_services(findings, "systems.shop", read)
    return paths(findings)


@pytest.mark.parametrize("output", ["password", "url", "host", "port", "user", "database"])
def test_a_postgresql_with_its_user_and_database_gives_every_output(output: str) -> None:
    assert env_paths("{postgresql: {user: app, database: app}}",
                     f"{{DATABASE: {{accessory: postgresql, output: {output}}}}}") == []


@pytest.mark.parametrize("accessories, output", [
    ("{mysql: {database: app}}", "url"),  # no user: none is made, so no URL to log in with
    ("{mysql: {database: app}}", "user"),
    ("{postgresql: {user: app}}", "database"),
    ("{redis: {}}", "user"),
    ("{redis: {}}", "database"),
])
def test_an_output_the_accessory_cannot_give_is_refused_at_its_key(accessories: str, output: str) -> None:
    kind = accessories[1:accessories.index(":")]
    assert env_paths(accessories, f"{{X: {{accessory: {kind}, output: {output}}}}}") == [
        "systems.shop.services.app.env.X.output"]


def test_an_existing_redis_without_a_password_gives_its_address_not_its_url() -> None:
    accessories = "{redis: {existing: true}}"
    assert env_paths(accessories, "{PORT: {accessory: redis, output: port}}") == []
    assert env_paths(accessories, "{URL: {accessory: redis, output: url}}") == [
        "systems.shop.services.app.env.URL.accessory"]


def test_an_unknown_output_is_refused_naming_the_choices() -> None:
    reader = Reader()
    reader.read(Settings, yaml.safe_load(stack_text("{redis: {}}", "{X: {accessory: redis, output: uri}}")), "")
    assert reader.problems == [("systems.shop.services.app.env.X.output",
                                "expected one of password, url, host, port, user, database; got a string ('uri')")]


def test_the_reference_gives_each_accessory_s_address_as_the_host_has_it() -> None:
    import dataclasses

    from components.model.topology import Accessory, AccessoryRef

    output_doc = {f.name: f.metadata["doc"] for f in dataclasses.fields(AccessoryRef)}["output"]
    for kind, port in ACCESSORY_PORTS.items():
        assert f"{kind} on 127.0.0.1:{port}" in " ".join((Accessory.__doc__ or "").split()).replace(" (MariaDB)", "")
        assert f"{kind} {port}" in output_doc
