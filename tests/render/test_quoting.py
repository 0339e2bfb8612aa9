"""The quoting functions (components/render/quoting.py), each checked by its target reading a hostile
value back: bash, a real PostgreSQL, docker compose, nginx, caddy; and the bash quoting functions the
accessories step runs on the host, against their Python twins, under the names the step uses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.hostile import HOSTILE

from components.render import quoting
from components.render.provision import accessory_passwords

VALUES = [value for value in HOSTILE.values() if "\x00" not in value] + [
    "", "'", "\\", "\\'", '"', "$HOME $$ ${X}", "`id`", "a\n", "\n\n", "\t", "% _ \\% \\_", "é日本 ü",
    "-- ; /* */", "  padded  ", "trailing\\", "\\n\\t\\x41\\u00e9", "STACKYARD_EOF", "STACKYARD_EOF_\n",
]


def bash(script: str, stdin: str | None = None) -> str:
    """What bash prints running ``script`` (from a file: some values are longer than an argument may be),
    as bytes decoded, carriage returns and all."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".sh", encoding="utf-8") as file:
        file.write(script)
        file.flush()
        done = subprocess.run(["bash", file.name], input=stdin.encode() if stdin is not None else None,
                              capture_output=True, check=True)
    return done.stdout.decode()


@pytest.mark.parametrize("value", VALUES)
def test_a_shell_word_reads_back_as_it_is(value: str) -> None:
    assert bash(f"printf %s {quoting.sh(value)}") == value


@pytest.mark.parametrize("value", VALUES)
def test_a_heredoc_carries_any_content_even_its_own_terminator(value: str) -> None:
    content = value + "\n" + quoting.heredoc(value)[1] + "\n" + value
    assert bash(quoting.heredoc_to("cat", content)) == content + ("" if content.endswith("\n") else "\n")


def test_a_nul_cannot_reach_a_script() -> None:
    for encode in (quoting.sh, quoting.env_json, quoting.postgres_literal, quoting.mysql_literal):
        with pytest.raises((ValueError, TypeError)):
            encode("a\x00b") if encode is not quoting.env_json else encode("K", "a\x00b")


@pytest.mark.parametrize("value", VALUES)
def test_the_hosts_sql_and_redis_quoting_matches_the_programs(value: str) -> None:
    """The bash functions of the accessories step (run on the host, where the password is) give what
    the Python functions give, under the variable names the step uses."""
    script = accessory_passwords.__globals__["SQL_QUOTING_SH"] + accessory_passwords.__globals__["REDIS_QUOTING_SH"]
    out = bash(script + 'IFS= read -r -d "" pass || true\nliteral=\nsql_literal_pg "$pass" literal\n'
                        'printf "%s\\0" "$literal"\nliteral=\nsql_literal_mysql "$pass" literal\n'
                        'printf "%s\\0" "$literal"\nquoted=\nredis_string "$pass" quoted || true\n'
                        'printf "%s" "$quoted"', stdin=value)
    pg, mysql, redis = out.split("\x00")
    assert pg == quoting.postgres_literal(value)
    assert mysql == quoting.mysql_literal(value)
    expected = '"' + "".join("\\\\" if b == 0x5C else '\\"' if b == 0x22 else chr(b) if 0x20 <= b <= 0x7E
                             else f"\\x{b:02x}" for b in value.encode()) + '"'
    assert redis == ("" if value == "" else expected)  # an empty password is refused, never written


def test_postgresql_reads_the_literals_back(postgres) -> None:
    with postgres.connect() as connection:
        for value in VALUES:
            assert connection.execute(f"SELECT {quoting.postgres_literal(value)}").fetchone()[0] == value
            assert connection.execute(f"SELECT 1 AS {quoting.postgres_identifier(value or 'x')}").description[
                0].name == (value or "x")[:63]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (`make deps` installs it)")
def test_nginx_takes_a_header_value_as_it_is_and_refuses_what_it_would_expand(tmp_path: Path) -> None:
    value = "default-src 'self'; script-src \"x\" \\ https://cdn.example"
    config = tmp_path / "nginx.conf"
    config.write_text(f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}} http {{ access_log off; "
                      f"server {{ listen 127.0.0.1:1; add_header X-Test {quoting.nginx_string(value)}; }} }}\n")
    done = subprocess.run(["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for bad in ("$host", "a\nb"):
        with pytest.raises(ValueError):
            quoting.nginx_string(bad)


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (`make deps` installs it)")
def test_caddy_takes_a_header_value_as_it_is_and_refuses_placeholders(tmp_path: Path) -> None:
    value = "default-src 'self'; script-src \"x\" https://cdn.example"
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(f":8080 {{\n\theader X-Test {quoting.caddy_string(value)}\n}}\n")
    done = subprocess.run(["caddy", "adapt", "--adapter", "caddyfile", "--config", str(caddyfile)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert value.replace('"', '\\"') in done.stdout  # JSON of the value, as it is
    for bad in ("{env.HOME}", "a\\b", "a\nb"):
        with pytest.raises(ValueError):
            quoting.caddy_string(bad)


def test_a_systemd_command_word_escapes_specifiers_variables_and_quotes() -> None:
    assert quoting.systemd_word('exec app --port $PORT "x" 100% \\') == \
        '"exec app --port $$PORT \\"x\\" 100%% \\\\"'
    with pytest.raises(ValueError):
        quoting.systemd_word("a\nb")


def test_env_files_refuse_a_bad_name_and_keep_every_byte() -> None:
    with pytest.raises(ValueError):
        quoting.env_double_quoted("BAD NAME", "x")
    assert quoting.env_double_quoted("K", 'a"b\\c$d\ne') == 'K="a\\"b\\\\c\\$d\ne"\n'


def test_a_grant_s_database_is_never_a_pattern() -> None:
    """In a MariaDB GRANT, `_` and `%` of a database name are wildcards: a database named `mysq_` gave its
    user ALL on the mysql system schema, and a superuser with it (round 29, on MariaDB 10.11)."""
    from components.render.provision import accessories_script
    from components.render.quoting import mysql_grant_database

    assert mysql_grant_database("mysq_") == "`mysq\\_`"
    assert mysql_grant_database("a%b\\c") == "`a\\%b\\\\c`"
    script = accessories_script({"mysql": {"database": "shop_db", "user": "shop"}})
    assert "'GRANT ALL PRIVILEGES ON `shop\\_db`.* TO '" in script
    assert "CREATE DATABASE IF NOT EXISTS `shop_db`;" in script  # the name itself, where it is no pattern
