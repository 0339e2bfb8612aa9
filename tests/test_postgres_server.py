"""The throwaway PostgreSQL the database tests use (tests/helpers/postgres.py): version, extensions, exposure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from helpers.postgres import PostgresServer


def test_server_is_postgresql_15(postgres: PostgresServer):
    with postgres.connect() as conn:
        version = conn.execute("select version()").fetchone()[0]
        number = int(conn.execute("show server_version_num").fetchone()[0])
    assert version.startswith("PostgreSQL 15."), version
    assert 150000 <= number < 160000


def test_extensions_in_a_fresh_database(postgres: PostgresServer):
    postgres.require_extensions("uuid-ossp", "ltree", "vector")
    dbname = postgres.create_database()
    with postgres.connect(dbname) as conn:
        assert conn.execute("select count(*) from pg_extension where extname <> 'plpgsql'").fetchone()[0] == 0
        for extension in ("uuid-ossp", "ltree", "vector"):
            conn.execute(f'create extension if not exists "{extension}"')
        distance = conn.execute("select '[1,2,3]'::vector <-> '[1,2,4]'::vector").fetchone()[0]
        generated = conn.execute("select uuid_generate_v4()").fetchone()[0]
        levels = conn.execute("select nlevel('top.science.astronomy'::ltree)").fetchone()[0]
    assert distance == 1.0
    assert isinstance(generated, uuid.UUID) and generated.version == 4
    assert levels == 3


def test_databases_are_separate(postgres: PostgresServer):
    first, second = postgres.create_database(), postgres.create_database()
    assert first != second
    with postgres.connect(first) as conn:
        conn.execute("create table only_here (id int)")
    with postgres.connect(second) as conn:
        assert conn.execute("select to_regclass('only_here')").fetchone()[0] is None


def test_listens_only_on_loopback_with_passwords(postgres: PostgresServer):
    with postgres.connect() as conn:
        assert conn.execute("show listen_addresses").fetchone()[0] == "127.0.0.1"
        assert conn.execute("show unix_socket_directories").fetchone()[0] == str(postgres.socket_dir)
        assert str(conn.execute("select inet_server_addr()").fetchone()[0]) == "127.0.0.1"
        methods = {row[0] for row in conn.execute("select auth_method from pg_hba_file_rules")}
        assert conn.execute("show fsync").fetchone()[0] == "off"
    assert methods == {"scram-sha-256"}
    if socket.has_ipv6:
        with pytest.raises(OSError), socket.create_connection(("::1", postgres.port), timeout=2):
            pass


def test_tcp_login_needs_the_password(postgres: PostgresServer):
    no_passfile = str(postgres.tempdir / "no-such-passfile")
    base = {"host": postgres.host, "port": postgres.port, "user": "postgres", "dbname": "postgres"}
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(**base, passfile=no_passfile, connect_timeout=5)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**base, password="not-" + postgres.password, passfile=no_passfile, connect_timeout=5)
    with psycopg.connect(postgres.dsn("postgres", postgres.password, "postgres")) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "postgres"


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_a_killed_test_run_leaves_no_server_behind(postgres: PostgresServer, signal_name: str):
    """A run killed before its fixtures' stop() (a cancelled CI job) still stops its server: the
    reaper stops it once the test process is gone, and removes its directory."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom helpers.postgres import PostgresServer\n"
         "server = PostgresServer().start()\nprint(server.port, server.tempdir, flush=True)\ntime.sleep(600)"],
        cwd=Path(__file__).parent, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        port, tempdir = child.stdout.readline().split()
        with socket.create_connection(("127.0.0.1", int(port)), timeout=2):
            pass
        os.killpg(child.pid, getattr(signal, signal_name))
        child.wait(timeout=10)
        deadline = time.monotonic() + 30
        while Path(tempdir).exists() or listening(int(port)):
            assert time.monotonic() < deadline, f"PostgreSQL on {port} ({tempdir}) outlived its killed test run"
            time.sleep(0.2)
    finally:
        if child.poll() is None:
            child.kill()


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
