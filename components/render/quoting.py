"""One quoting function per target language: every stack value that reaches a script, a config file or
SQL goes through the function for its target, and only through it.

The model's kinds (components/model/kinds.py) decide what a value may hold; these functions decide how
it is written. A value a target cannot hold safely (a NUL in a shell word, a `$` in an nginx string,
a newline in a systemd line) raises ValueError: the model refuses such values first, so reaching
one here is a bug, never a silently mangled config.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Iterable, Mapping


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("a NUL character cannot be written here")
    return value


# --- shell ------------------------------------------------------------------------------------


def sh(value: str | int) -> str:
    """One shell word, quoted so that the shell reads back exactly ``value`` (POSIX sh and bash)."""
    return shlex.quote(_no_nul(str(value)))


def sh_array(values: Iterable[str | int]) -> str:
    """A bash array literal: ``(word word ...)``."""
    return "(" + " ".join(sh(v) for v in values) + ")"


def sh_assignments(values: Mapping[str, str | int]) -> str:
    """``NAME=value`` lines, each value one quoted word: a script's header."""
    for name in values:
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise ValueError(f"not a shell variable name: {name!r}")
    return "".join(f"{name}={sh(value)}\n" for name, value in values.items())


def sh_path(path: str) -> str:
    """A host path under the scripts' ``$ROOT`` prefix (tests run them in a scratch directory)."""
    return '"$ROOT"' + sh(path)


def heredoc(content: str) -> tuple[str, str]:
    """``(opening, terminator)`` of a quoted heredoc holding ``content`` as it is: no expansion, and a
    terminator no line of ``content`` can be, whatever it holds."""
    _no_nul(content)
    lines = set(content.split("\n"))
    tag = "STACKYARD_EOF_" + hashlib.sha256(content.encode()).hexdigest()[:12]
    while tag in lines:
        tag += "_"
    return f"<<'{tag}'", tag


def heredoc_to(command: str, content: str) -> str:
    """``command <<'TAG'`` + ``content`` + ``TAG``: feeds ``content`` to ``command``'s stdin as it is."""
    opening, tag = heredoc(content)
    body = content if content.endswith("\n") or not content else content + "\n"
    return f"{command} {opening}\n{body}{tag}\n"


def write_whole(path: str, content: str) -> str:
    """Writes ``content`` to ``path`` (a path of root's, not a variable) whole or not at all: into
    ``path.new``, then renamed over it. A step killed mid-write leaves a ``.new`` the next run writes
    again, never a short ``path`` that a check of "is it there?" would take as done."""
    return heredoc_to(f"cat > {sh(path + '.new')}", content) + f"mv -f {sh(path + '.new')} {sh(path)}\n"


# --- environment files ------------------------------------------------------------------------


def env_double_quoted(key: str, value: str) -> str:
    """``KEY="value"``, as systemd's EnvironmentFile= and Compose's env_file both read it back unchanged:
    inside double quotes each reads ``\\\\``, ``\\"`` and ``\\$`` as the character (systemd also ``\\```), and
    keeps newlines, tabs and other bytes as they are. Neither expands anything written so."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise ValueError(f"not an environment variable name: {key!r}")
    _no_nul(value)
    value.encode("utf-8")  # systemd drops a line that is not valid UTF-8
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'{key}="{escaped}"\n'


def env_json(key: str, value: str) -> str:
    """``KEY=<JSON string>``: the form stackyard's PM2 ecosystem loader parses (JSON.parse per line)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise ValueError(f"not an environment variable name: {key!r}")
    return f"{key}={json.dumps(_no_nul(value))}\n"


# --- systemd unit files -----------------------------------------------------------------------


def systemd_word(value: str) -> str:
    """One word of an Exec*= line, double-quoted: ``\\`` and ``"`` escaped, ``%`` written ``%%`` (no
    specifier) and ``$`` written ``$$`` (no variable of systemd's; the program gets the ``$``)."""
    if _no_nul(value) != value or re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError("a unit file's command word holds no control characters")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def systemd_value(value: str) -> str:
    """A unit file setting's value that is not a command (Description=, a path): one line, ``%`` as ``%%``."""
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError("a unit file setting is one line")
    return value.replace("%", "%%")


# --- proxies ----------------------------------------------------------------------------------


def nginx_string(value: str) -> str:
    """A double-quoted nginx string. nginx expands ``$name`` even inside quotes and has no escape for it,
    so a value with ``$`` (or a control character) cannot be written."""
    if "$" in value or re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError("an nginx string cannot hold $ or control characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nginx_token(value: str) -> str:
    """A word of an nginx config: as it is when it holds nothing nginx reads specially (a hostname, a
    path, a size), else a double-quoted string."""
    return value if re.fullmatch(r"[A-Za-z0-9._/@+:=*-]+", value) else nginx_string(value)


def caddy_token(value: str) -> str:
    """A word of a Caddyfile: as it is when it holds nothing Caddy reads specially, else quoted."""
    return value if re.fullmatch(r"[A-Za-z0-9._/@+:=*-]+", value) else caddy_string(value)


def caddy_string(value: str) -> str:
    """A double-quoted Caddyfile token. Caddy replaces ``{placeholders}`` inside quotes too, and its lexer
    undoes only ``\\"`` (a backslash before anything else stays, one before the closing quote escapes it),
    so a value with braces, a backslash or a control character cannot be written."""
    if re.search(r"[{}\\\x00-\x1f\x7f]", value):
        raise ValueError("a Caddyfile string cannot hold braces, backslashes or control characters")
    return '"' + value.replace('"', '\\"') + '"'


# --- SQL --------------------------------------------------------------------------------------


def postgres_identifier(name: str) -> str:
    """A PostgreSQL identifier, double-quoted (case kept, ``"`` doubled)."""
    return '"' + _no_nul(name).replace('"', '""') + '"'


def postgres_literal(value: str) -> str:
    """A PostgreSQL string constant, ``E'...'``: right whatever standard_conforming_strings says."""
    return "E'" + _no_nul(value).replace("\\", "\\\\").replace("'", "''") + "'"


def mysql_identifier(name: str) -> str:
    """A MySQL/MariaDB identifier in backticks (a backtick doubled)."""
    return "`" + _no_nul(name).replace("`", "``") + "`"


def mysql_grant_database(name: str) -> str:
    """A database of a MariaDB/MySQL GRANT, in backticks: there ``_`` and ``%`` are wildcards (a GRANT on
    `mysq_` covered the mysql system schema, round 29), written ``\\_`` and ``\\%`` to mean themselves."""
    return mysql_identifier(name.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%"))


def mysql_literal(value: str) -> str:
    """A MariaDB/MySQL string literal in its default sql_mode (backslash escapes on): backslash and quote
    doubled."""
    return "'" + _no_nul(value).replace("\\", "\\\\").replace("'", "''") + "'"


SQL_QUOTING_SH = r"""# SQL string literals of a value held in a shell variable (a password read from its 0600 file):
# sql_literal_pg VALUE NAME sets NAME to E'...' (PostgreSQL, whatever standard_conforming_strings says);
# sql_literal_mysql VALUE NAME sets NAME to '...' (MariaDB/MySQL in their default sql_mode, backslash
# escapes on). Parameter expansion only: the value is never a process argument.
sql_literal_pg() {
  local -n _out=$2
  # shellcheck disable=SC1003
  local _q="'" _b='\' _s=$1
  _s=${_s//"$_b"/"$_b$_b"}; _s=${_s//"$_q"/"$_q$_q"}; _out="E'$_s'"
}
sql_literal_mysql() {
  local -n _out=$2
  # shellcheck disable=SC1003
  local _q="'" _b='\' _s=$1
  _s=${_s//"$_b"/"$_b$_b"}; _s=${_s//"$_q"/"$_q$_q"}; _out="'$_s'"
}
"""


# --- Redis ------------------------------------------------------------------------------------


REDIS_QUOTING_SH = r"""# redis_string VALUE NAME sets NAME to VALUE as a double-quoted redis.conf argument: \ and "
# escaped, every byte outside printable ASCII written \xHH (a raw newline would end the config line).
# An empty VALUE is refused: Redis reads `requirepass ""` as no password at all.
redis_string() {
  local -n _out=$2
  local LC_ALL=C _s=$1 _i _c _code _q='"'
  if [ -z "$_s" ]; then echo "stackyard: an empty Redis password would mean none" >&2; return 1; fi
  for ((_i = 0; _i < ${#_s}; _i++)); do
    _c=${_s:_i:1}
    # shellcheck disable=SC1003
    case $_c in
      '\') _q+='\\' ;;
      '"') _q+='\"' ;;
      [[:print:]]) _q+=$_c ;;
      *) printf -v _code '%02x' "'$_c"; _q+="\\x$_code" ;;
    esac
  done
  _out="$_q\""
}
"""
