"""Secrets on a real host: the configured ones (canaries in Pulumi.local.yaml) and the generated database
passwords appear nowhere in plain text: not in `ps`, not in a file anyone may read, not in the journal,
not in the backups, not in the Pulumi state or anything `pulumi` printed. Backups hold the data only."""

from __future__ import annotations

import pytest

from local import CANARIES, LocalStack


@pytest.fixture(scope="module")
def secrets(stack: LocalStack) -> list[str]:
    generated = stack.ssh("cat /etc/stackyard/accessories/mysql.password; echo; "
                          "cat /etc/stackyard/accessories/redis.password").stdout.split()
    assert len(generated) == 2 and all(len(p) == 32 for p in generated)
    return [*CANARIES, *generated]


def grep_command(secrets: list[str]) -> str:
    return " ".join(f"-e {s}" for s in secrets)


def test_the_secrets_did_reach_the_apps(stack: LocalStack, secrets: list[str]) -> None:
    # ... through their env files, which only root (and, for PM2, the service's group) may read
    env = stack.ssh("cat /etc/stackyard/fastapi-sample.env /etc/stackyard/flask-sample.env").stdout
    assert all(secret in env for secret in secrets)
    assert stack.health("flask.stackyard.test")[0] == 200  # MariaDB and Redis took the generated passwords


def test_no_secret_in_any_process_command_line(stack: LocalStack, secrets: list[str]) -> None:
    hits = stack.ssh(f"ps -eo args | grep -F {grep_command(secrets)} | grep -v 'grep -F' || true").stdout
    assert hits.strip() == ""


def test_no_secret_in_a_file_anyone_may_read(stack: LocalStack, secrets: list[str]) -> None:
    # grep as `nobody`: exactly what a user without privileges can open, whatever the file's own mode says.
    hits = stack.ssh("runuser -u nobody -- grep -rlsF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev "
                     f"{grep_command(secrets)} / || true").stdout
    assert hits.strip() == ""


def test_no_secret_in_the_journal(stack: LocalStack, secrets: list[str]) -> None:
    journal = stack.ssh("journalctl --no-pager -o cat").stdout
    assert len(journal) > 10_000
    assert not [secret for secret in secrets if secret in journal]


def test_a_backup_holds_the_data_and_nothing_else(stack: LocalStack, secrets: list[str]) -> None:
    stack.ssh("/usr/local/sbin/stackyard-backup")
    latest = stack.ssh("ls -1d /var/backups/stackyard/*Z | tail -n1").stdout.strip()
    assert stack.ssh(f"stat -c %a {latest}").stdout.strip() == "700"
    files = sorted(stack.ssh(f"ls {latest}").stdout.split())
    assert files == ["mysql.sql.gz", "redis.rdb", "srv_flask-sample_shared.tar.gz"]
    archived = stack.ssh(f"tar -tzf {latest}/srv_flask-sample_shared.tar.gz").stdout.split()
    # bug 7: the build's HOME was shared/, so the uv cache and PM2's dump (with the env secrets) went in
    assert not [path for path in archived if ".cache" in path or ".pm2" in path or "dump.pm2" in path]
    dump = stack.ssh(f"zcat {latest}/mysql.sql.gz | grep -c 'CREATE TABLE' || true").stdout.strip()
    assert int(dump) > 0  # a real dump of the databases
    found = stack.ssh(f"for f in {latest}/*; do case $f in *.gz) zcat \"$f\";; *) cat \"$f\";; esac; done "
                      f"| grep -caF {grep_command(secrets)} || true").stdout.strip()
    assert found == "0"


def test_no_secret_in_the_state_or_in_what_pulumi_printed(stack: LocalStack, secrets: list[str]) -> None:
    state = stack.ws.backend_text()
    for secret in secrets:
        assert secret not in state
        assert not [text for text in stack.outputs if secret in text]
    assert len(stack.outputs) >= 3
