"""A throwaway PostgreSQL server for the tests: its own cluster in a fresh temporary directory.

`PostgresServer().start()` runs initdb and starts the server on a free port of 127.0.0.1 only, with
password (scram-sha-256) authentication for a generated superuser password, its unix socket inside
the temporary directory, and durability turned off (fsync, synchronous_commit, full_page_writes),
which a server thrown away after the run does not need. `stop()` stops it and removes the directory;
it also runs at interpreter exit, so an interrupted test run does not leave a server behind.

It uses Debian's PostgreSQL (package `postgresql`: version 15 on bookworm, with contrib's uuid-ossp
and ltree); pgvector is built into it by scripts/pgvector. Both come with `make system-deps`.
The fixture made by `postgres_fixture()` skips, naming what is missing, where they are not installed.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from .throwaway import Reaper, server_fixture

PG_ROOT = Path("/usr/lib/postgresql")
PREFERRED_MAJOR = "15"
PROGRAMS = ("initdb", "pg_ctl", "postgres")
SUPERUSER = "postgres"
OS_USER = "postgres"
"""Who runs the server when the tests run as root (initdb refuses root); Debian's package makes it."""
START_TIMEOUT = 30.0
INSTALL_HINT = "make system-deps installs Debian's postgresql package (as root with apt)"


class PostgresUnavailable(Exception):
    """What is missing to run a server here, and how to get it."""


def find_bindir() -> Path:
    """The bin dir of PostgreSQL 15 if installed, else of the newest PostgreSQL under /usr/lib/postgresql."""
    candidates = [PG_ROOT / PREFERRED_MAJOR / "bin"]
    if PG_ROOT.is_dir():
        others = [p for p in PG_ROOT.iterdir() if re.fullmatch(r"\d+", p.name) and p.name != PREFERRED_MAJOR]
        candidates += [p / "bin" for p in sorted(others, key=lambda p: int(p.name), reverse=True)]
    for bindir in candidates:
        if all(os.access(bindir / program, os.X_OK) for program in PROGRAMS):
            return bindir
    raise PostgresUnavailable(
        f"PostgreSQL server programs ({', '.join(PROGRAMS)}) not found in {PG_ROOT}/{PREFERRED_MAJOR}/bin "
        f"or any {PG_ROOT}/*/bin: {INSTALL_HINT}"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quote(value: str) -> str:
    """A libpq keyword/value DSN value, quoted."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.as_os_user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.as_os_user = pwd.getpwnam(OS_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root, and initdb refuses root, but there is no '{OS_USER}' OS user "
                    f"to run it as: {INSTALL_HINT}"
                ) from None
            if not shutil.which("runuser"):
                raise PostgresUnavailable("running as root, and initdb refuses root, but runuser is missing")
        self.host = "127.0.0.1"
        self.port = 0
        self.password = secrets.token_urlsafe(24)
        self.tempdir: Path | None = None
        self._running = False
        self._reaper: Reaper | None = None

    # -- paths -------------------------------------------------------------------------------

    @property
    def datadir(self) -> Path:
        assert self.tempdir, "the server has not been started"
        return self.tempdir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.tempdir, "the server has not been started"
        return self.tempdir / "socket"

    @property
    def logfile(self) -> Path:
        assert self.tempdir, "the server has not been started"
        return self.tempdir / "server.log"

    # -- connecting --------------------------------------------------------------------------

    def dsn(self, user: str, password: str, dbname: str) -> str:
        """A libpq keyword/value DSN for `user` over TCP to 127.0.0.1."""
        parts = {"host": self.host, "port": str(self.port), "user": user, "password": password, "dbname": dbname}
        return " ".join(f"{key}={_quote(value)}" for key, value in parts.items())

    def admin_dsn(self, dbname: str = "postgres") -> str:
        """The superuser's DSN over TCP to 127.0.0.1."""
        return self.dsn(SUPERUSER, self.password, dbname)

    def connect(self, dbname: str = "postgres", **kwargs):
        """A psycopg connection as the superuser (autocommit unless told otherwise)."""
        import psycopg

        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 5)
        return psycopg.connect(self.admin_dsn(dbname), **kwargs)

    def create_database(self, name: str | None = None) -> str:
        """Creates a fresh, empty database (named `name`, or a generated name) and returns its name."""
        from psycopg import sql

        name = name or f"test_{secrets.token_hex(6)}"
        with self.connect() as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        return name

    def available_extensions(self) -> set[str]:
        with self.connect() as conn:
            return {row[0] for row in conn.execute("select name from pg_available_extensions")}

    def require_extensions(self, *names: str) -> None:
        """Skips the calling test when one of these extensions is not installed in this PostgreSQL."""
        missing = sorted(set(names) - self.available_extensions())
        if missing:
            hint = "scripts/pgvector builds it (run by make system-deps)" if "vector" in missing else INSTALL_HINT
            pytest.skip(f"PostgreSQL extension(s) {', '.join(missing)} not installed in {self.bindir.parent}: {hint}")

    # -- lifecycle ---------------------------------------------------------------------------

    def _command(self, *args: str | Path) -> list[str]:
        command = [str(a) for a in args]
        return ["runuser", "-u", OS_USER, "--", *command] if self.as_os_user else command

    def _run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = self._command(*args)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return subprocess.run(
            command, cwd=self.tempdir, env=env, check=check, capture_output=True, text=True, timeout=60
        )

    def _own(self, path: Path) -> None:
        if self.as_os_user:
            os.chown(path, self.as_os_user.pw_uid, self.as_os_user.pw_gid)

    def _server_log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-6000:]
        except OSError as e:
            return f"(no server log: {e})"

    def start(self) -> PostgresServer:
        """initdb, then start the server and wait until it takes connections; cleans up if that fails."""
        assert self.tempdir is None, "start() once per PostgresServer"
        self.tempdir = Path(tempfile.mkdtemp(prefix="stackyard-pg-"))
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._own(self.tempdir)
        self.socket_dir.mkdir()
        self._own(self.socket_dir)
        pwfile = self.tempdir / "pwfile"
        pwfile.touch(mode=0o600)
        pwfile.write_text(self.password + "\n")
        self._own(pwfile)

        initdb = self._run(
            self.bindir / "initdb", "--pgdata", self.datadir, "--username", SUPERUSER, "--pwfile", pwfile,
            "--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C", "--no-sync", "--no-instructions",
            check=False,
        )  # fmt: skip
        pwfile.unlink()
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}\n{initdb.stderr}")

        # Password authentication only, on the socket and on 127.0.0.1; nothing else may connect.
        (self.datadir / "pg_hba.conf").write_text(
            "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        for attempt in range(3):
            self.port = free_port()
            settings = {
                "listen_addresses": "127.0.0.1",
                "port": str(self.port),
                "unix_socket_directories": str(self.socket_dir),
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "password_encryption": "scram-sha-256",
            }
            conf = "".join(f"{key} = {_quote(value)}\n" for key, value in settings.items())
            (self.datadir / "postgresql.auto.conf").write_text(conf)
            self.logfile.unlink(missing_ok=True)
            ctl = self._run(
                self.bindir / "pg_ctl", "start", "--pgdata", self.datadir, "--log", self.logfile,
                "--wait", "--timeout", str(int(START_TIMEOUT)), check=False,
            )  # fmt: skip
            if ctl.returncode == 0:
                break
            # Another process may have taken the free port between our probe and the server's bind.
            if "Address already in use" not in self._server_log() or attempt == 2:
                raise RuntimeError(
                    f"PostgreSQL did not start ({ctl.returncode}): {ctl.stdout}{ctl.stderr}\n"
                    f"server log:\n{self._server_log()}"
                )
        self._running = True
        # Stopped even when this test process is killed before stop() runs (an immediate shutdown:
        # the data is thrown away), then its directory removed.
        stop = self._command(self.bindir / "pg_ctl", "stop", "--pgdata", self.datadir, "-m", "immediate")
        self._reaper = Reaper(["sh", "-c", '"$@"; rm -rf "$0"', str(self.tempdir), *stop])
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        """Waits until the superuser can log in over TCP, which is what the tests will do."""
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with self.connect(connect_timeout=2) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError as e:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL on {self.host}:{self.port} was not ready in {START_TIMEOUT:.0f} s: {e}\n"
                        f"server log:\n{self._server_log()}"
                    ) from e
                time.sleep(0.1)

    def stop(self) -> None:
        """Stops the server (fast shutdown) and removes its directory; does nothing the second time."""
        atexit.unregister(self.stop)
        if self.tempdir is None:
            return
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        if self._running:
            self._running = False
            stopped = self._run(self.bindir / "pg_ctl", "stop", "--pgdata", self.datadir, "-m", "fast", check=False)
            if stopped.returncode != 0:
                self._run(self.bindir / "pg_ctl", "stop", "--pgdata", self.datadir, "-m", "immediate", check=False)
        shutil.rmtree(self.tempdir, ignore_errors=True)


def postgres_fixture(scope: str = "session", name: str = "postgres"):
    """A pytest fixture that yields a started PostgresServer and stops it afterwards.

    It skips the tests that use it, naming what is missing, when PostgreSQL is not installed here.
    """
    return server_fixture(PostgresServer, PostgresUnavailable, scope=scope, name=name)
