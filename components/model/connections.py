"""What a service reads of an accessory on its host: ``{accessory: postgresql, output: url}``.

Every accessory listens on the host's loopback at its kind's port (host_layout.ACCESSORY_PORTS), so a
service on that host reaches it at 127.0.0.1. The URL is the form most clients and frameworks read
(Django's and Rails' DATABASE_URL, SQLAlchemy, libpq, redis-py's from_url): each part that comes from the
stack (user, password, database) is percent-encoded, so a password holding ``@:/?#%`` or a space is read
back as it is, not as the URL's own syntax.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from .host_layout import ACCESSORY_PORTS

Output = Literal["password", "url", "host", "port", "user", "database"]
SECRET_OUTPUTS = frozenset({"password", "url"})
"""The outputs that hold the password, kept as Pulumi secrets."""

HOST = "127.0.0.1"
REDIS_DATABASE = "0"
"""Redis numbers its databases; a URL names the first, which is the one a client uses unless told."""


def missing(kind: str, output: str, *, user: str | None, database: str | None) -> str | None:
    """Why an accessory set up with ``user`` and ``database`` cannot give ``output``, or None if it can."""
    if kind == "redis" and output in ("user", "database"):
        return (f"redis has no {output} to give: a client logs in with the password alone, to database "
                f"{REDIS_DATABASE} (use output url, host, port or password)")
    if kind != "redis" and output in ("user", "url") and not user:
        return (f"this {kind} has no user: set accessories.{kind}.user (stackyard makes the user, with a "
                "generated password, only when it is named)")
    if kind != "redis" and output == "database" and not database:
        return f"this {kind} has no database: set accessories.{kind}.database"
    return None


def url(kind: str, *, user: str | None, password: str | None, database: str | None) -> str:
    """``<kind>://<user>:<password>@127.0.0.1:<port>/<database>`` (the kind is the URL's scheme), each part
    percent-encoded (no user for Redis, whose path is its database number; no password where there is none;
    no path without a database)."""
    login = encode(user or "")
    if password is not None:
        login += ":" + encode(password)
    path = REDIS_DATABASE if kind == "redis" else encode(database or "")
    at = f"{login}@" if login else ""
    return f"{kind}://{at}{HOST}:{ACCESSORY_PORTS[kind]}" + (f"/{path}" if path else "")


def value(kind: str, output: str, *, user: str | None, password: str | None, database: str | None) -> str:
    """The text of ``output`` for an accessory of ``kind`` (missing() says which it cannot give)."""
    if output == "url":
        return url(kind, user=user, password=password, database=database)
    plain = {"password": password, "host": HOST, "port": str(ACCESSORY_PORTS[kind]), "user": user,
             "database": database}[output]
    if plain is None:
        raise ValueError(f"{kind} has no {output}")
    return plain


def encode(part: str) -> str:
    """Every character but the unreserved ones (letters, digits, ``-._~``) as %XX of its UTF-8 bytes."""
    return quote(part, safe="")
