"""Field-level format checks. Each returns an error message, or None when the value is fine."""

from __future__ import annotations

import ipaddress
import re

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONFIG_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_SUPABASE_REF = re.compile(r"^[a-z]{20}$")
_SQL_IDENT = re.compile(r"^[a-z_][a-z0-9_$-]{0,62}$")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_SSH_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com)"
    r" [A-Za-z0-9+/]{40,}={0,3}( .*)?$"
)


def name(value: str) -> str | None:
    """Names of systems, hosts and frontends become parts of resource names."""
    if not _NAME.match(value):
        return "must be lowercase letters, digits and '-', starting with a letter (at most 41 characters)"
    return None


def hostname(value: str) -> str | None:
    """A fully qualified DNS name such as ``api.mehko.ai`` (no trailing dot, no scheme)."""
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return f"'{value}' is not a valid hostname (lowercase labels of a-z, 0-9 and '-', joined by dots)"
    return None


def record_name(value: str) -> str | None:
    """A record name relative to its zone: ``@`` for the apex, ``api``, ``_dmarc``, ``*.preview``."""
    if value == "@":
        return None
    labels = value.split(".")
    for i, label in enumerate(labels):
        if label == "*" and i == 0:
            continue
        if label.startswith("_") and _LABEL.match(label[1:]):
            continue
        if not _LABEL.match(label):
            return (f"'{value}' is not a valid record name: use '@' for the zone apex or "
                    "lowercase labels relative to the zone (e.g. 'api')")
    return None


def ipv4(value: str) -> str | None:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return f"'{value}' is not an IPv4 address"
    return None


def ipv6(value: str) -> str | None:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return f"'{value}' is not an IPv6 address"
    return None


def address(value: str) -> str | None:
    """An IPv4/IPv6 address or a hostname that SSH can dial."""
    if ipv4(value) is None or ipv6(value) is None or hostname(value) is None:
        return None
    return f"'{value}' is neither an IP address nor a hostname"


def cidr(value: str) -> str | None:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as err:
        return f"'{value}' is not a network in CIDR form such as 203.0.113.0/24 ({err})"
    return None


def port(value: int) -> str | None:
    if not 1 <= value <= 65535:
        return f"{value} is not a TCP port (1-65535)"
    return None


def env_key(value: str) -> str | None:
    if not _ENV_KEY.match(value):
        return f"'{value}' is not a valid environment variable name"
    return None


def config_key(value: str) -> str | None:
    if not _CONFIG_KEY.match(value):
        return f"'{value}' is not a valid config key name (letters, digits, '_')"
    return None


def hex32(value: str) -> str | None:
    """Cloudflare account and zone IDs are 32 lowercase hex digits."""
    if not _HEX32.match(value):
        return f"'{value}' is not a Cloudflare ID (32 lowercase hex digits)"
    return None


def repository(value: str) -> str | None:
    if not _REPO.match(value):
        return f"'{value}' is not a GitHub repository in owner/name form"
    return None


def ssh_public_key(value: str) -> str | None:
    if "PRIVATE KEY" in value:
        return "this is a private key; put the public key here and the private key in a secret"
    if not _SSH_KEY.match(value.strip()):
        return "not an OpenSSH public key (expected 'ssh-ed25519 AAAA... comment')"
    return None


def absolute_path(value: str) -> str | None:
    if not re.match(r"^/[A-Za-z0-9._/@+-]*$", value) or "/../" in value + "/":
        return f"'{value}' is not an absolute path (letters, digits and ._/@+- only)"
    return None


def relative_path(value: str) -> str | None:
    """A path inside a repository: relative, never above it."""
    if not re.match(r"^[A-Za-z0-9._@+-][A-Za-z0-9._/@+-]*$", value) or ".." in value.split("/"):
        return f"'{value}' is not a path inside the repository (relative, no '..'; letters, digits and ._/@+- only)"
    return None


def process_name(value: str) -> str | None:
    """PM2 process and systemd unit names as scripts on the host name them."""
    if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9._@:-]{0,99}$", value):
        return f"'{value}' is not a process or unit name (letters, digits and ._@:- only)"
    return None


def size(value: str) -> str | None:
    if not re.match(r"^[1-9][0-9]{0,5}(KB|MB|GB)$", value):
        return f"'{value}' is not a size such as 512KB, 10MB or 1GB"
    return None


def linux_user(value: str) -> str | None:
    if not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", value):
        return f"'{value}' is not a valid Linux user name"
    return None


def supabase_ref(value: str) -> str | None:
    if not _SUPABASE_REF.match(value):
        return f"'{value}' is not a Supabase project ref (20 lowercase letters, as in <ref>.supabase.co)"
    return None


def sql_identifier(value: str) -> str | None:
    """Lowercase names only: they are quoted in SQL, and a quoted mixed-case name is a different object."""
    if not _SQL_IDENT.match(value):
        return f"'{value}' is not a lowercase SQL name (a-z, 0-9, '_', '-'; at most 63 characters)"
    return None


def sql_table(value: str) -> str | None:
    """``table`` or ``schema.table``."""
    parts = value.split(".")
    if len(parts) > 2 or any(sql_identifier(part) for part in parts):
        return f"'{value}' is not a table name (`table` or `schema.table`, lowercase)"
    return None


def url(value: str) -> str | None:
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        return f"'{value}' is not an http(s) URL"
    return None


def numeric_id(value: str) -> str | None:
    if not re.fullmatch(r"[1-9][0-9]{0,18}", str(value)):
        return f"'{value}' is not a numeric ID (digits only)"
    return None


def uuid(value: str) -> str | None:
    if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", str(value)):
        return f"'{value}' is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
    return None


def vercel_project_id(value: str) -> str | None:
    if not re.fullmatch(r"prj_[A-Za-z0-9]{10,40}", str(value)):
        return f"'{value}' is not a Vercel project ID (prj_...)"
    return None
