"""A direct connection to the Supabase database checks the server's certificate. The URI the dashboard
gives names no sslmode, and libpq then took any certificate, or plain text: a machine in the middle could
relay the login and run SQL as postgres (round 27). Only a loopback server may go without."""

from __future__ import annotations

import pytest

from components.supabase.sql import PostgresSql, SqlError

SECRET = "pa55-do-not-show"


@pytest.mark.parametrize("dsn", [
    f"postgresql://postgres:{SECRET}@db.abcdefghijklmnopqrst.supabase.co:5432/postgres",
    f"postgresql://postgres:{SECRET}@db.abcdefghijklmnopqrst.supabase.co:5432/postgres?sslmode=require",
    f"postgresql://postgres:{SECRET}@db.abcdefghijklmnopqrst.supabase.co:5432/postgres?sslmode=verify-ca",
    f"postgresql://postgres:{SECRET}@127.0.0.1,db.example.com/postgres",
    # round 28: a loopback host whose hostaddr is not, a service file, a host left to the environment
    f"postgresql://postgres:{SECRET}@localhost/postgres?hostaddr=203.0.113.5",
    f"postgresql://postgres:{SECRET}@/postgres?service=prod",
    f"postgresql://postgres:{SECRET}@/postgres",
    f"postgresql://postgres:{SECRET}@db.example.com/postgres?sslmode=verify-full&service=prod",
])
def test_a_connection_that_would_take_any_server_is_refused_before_it_is_made(dsn: str) -> None:
    with pytest.raises(SqlError) as refused:
        PostgresSql(dsn).query("select 1", what="a check")
    assert "sslmode=verify-full" in str(refused.value)
    assert SECRET not in str(refused.value)


@pytest.mark.parametrize("dsn", [
    f"postgresql://postgres:{SECRET}@db.example.supabase.co/postgres?sslmode=verify-full&sslrootcert=/ca.crt",
    f"postgresql://postgres:{SECRET}@127.0.0.1:5432/postgres",
    f"postgresql://postgres:{SECRET}@localhost/postgres",
    "host=/var/run/postgresql dbname=postgres",
])
def test_a_connection_that_checks_its_server_or_stays_on_loopback_is_taken(dsn: str) -> None:
    PostgresSql(dsn).checked()
