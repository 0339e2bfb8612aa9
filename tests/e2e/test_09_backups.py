"""Backups on the real host: from cron, off-site to an S3 server, pruned on both sides, restored.

The S3 server is moto's (conftest.py's `s3`), on this machine's end of the host's link (10.213.0.1).
restic on the host encrypts each dump before it leaves.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest

from local import FIGURES, S3_PORT, LocalStack, local_host

BUCKET = "stackyard-backups"
DIRECTORY = "/var/backups/stackyard"
KEEP = 3  # Pulumi.local.yaml's backups.keep
S3_KEYS = {"localS3AccessKey": "AKIASTACKYARDLOCAL01", "localS3SecretKey": "local-s3-secret-8f1e2d",
           "localResticPassword": "local-restic-password-33b0"}
RESTIC = (f"export RESTIC_REPOSITORY=s3:http://{local_host.HOST_IP}:{S3_PORT}/{BUCKET}/box "
          "RESTIC_PASSWORD_FILE=/etc/stackyard/backup/restic.password "
          "AWS_ACCESS_KEY_ID=$(cat /etc/stackyard/backup/s3-access-key) "
          "AWS_SECRET_ACCESS_KEY=$(cat /etc/stackyard/backup/s3-secret-key); ")


def s3_client(endpoint: str):
    """A client of the test's S3 server (moto takes any keys)."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x",
                        region_name="us-east-1")


def objects(endpoint: str) -> int:
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return sum(page.get("KeyCount", 0) for page in pages)


def bucket(endpoint: str) -> Iterator[tuple[str, bytes]]:
    client = s3_client(endpoint)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            yield item["Key"], client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()


def dumps(stack: LocalStack) -> list[str]:
    return stack.ssh(f"find {DIRECTORY} -mindepth 1 -maxdepth 1 -type d -printf '%f\\n' | sort").stdout.split()


def timed(stack: LocalStack, command: str) -> float:
    started = time.monotonic()
    stack.ssh(command)
    return time.monotonic() - started


def rows(stack: LocalStack) -> str:
    return stack.ssh("mysql -N -e 'SELECT body FROM sample.restore_check ORDER BY id' 2>&1", check=False).stdout


@pytest.fixture(scope="module")
def offsite(stack: LocalStack, s3: str) -> Iterator[LocalStack]:
    for name, value in S3_KEYS.items():
        stack.ws.set_secret("local", name, value)

    def every_minute(system: dict) -> None:
        backups = system["hosts"]["box"]["backups"]
        backups["schedule"] = "* * * * *"
        backups["offsite"] = {"repository": f"s3:{s3}/{BUCKET}/box", "accessKey": {"secret": "localS3AccessKey"},
                              "secretKey": {"secret": "localS3SecretKey"},
                              "password": {"secret": "localResticPassword"}}

    stack.edit_system(every_minute)
    stack.up()
    try:
        yield stack
    finally:
        stack.edit_system(lambda system: system["hosts"]["box"]["backups"].update(schedule="17 3 * * *"))
        stack.up()


def test_a_backup_runs_from_cron_and_its_copy_lands_off_site(offsite: LocalStack, s3: str) -> None:
    def finished() -> set[str]:
        return {name for name in dumps(offsite) if name.endswith("Z")}  # not a run's .partial

    before = finished()
    deadline = time.monotonic() + 150
    while not (finished() - before) and time.monotonic() < deadline:
        time.sleep(3)
    made = finished() - before
    assert made, "cron ran no backup within 150 s"
    final = f"backup {DIRECTORY}/{sorted(made)[-1]} done"
    deadline = time.monotonic() + 60  # the run goes on with its upload
    while final not in (log := offsite.ssh("journalctl -o cat -t stackyard-backup").stdout):
        assert time.monotonic() < deadline, log
        time.sleep(2)
    snapshots = json.loads(offsite.ssh(RESTIC + "restic snapshots --json").stdout)
    assert snapshots and objects(s3) > 0
    # Every dump of it ended: tagged complete, what a restore takes (a run with a failed dump is not).
    assert set(snapshots[-1]["tags"]) == {"stackyard", "complete"}, snapshots[-1]
    assert offsite.ssh("grep -c stackyard-backup /etc/cron.d/stackyard-backup").stdout.strip() == "1"


def test_restore_brings_a_dropped_table_back_from_here_and_from_off_site(offsite: LocalStack) -> None:
    offsite.ssh("mysql -e \"CREATE TABLE sample.restore_check (id INT PRIMARY KEY AUTO_INCREMENT, body TEXT); "
                "INSERT INTO sample.restore_check (body) VALUES ('first'), ('second')\"")
    backup = timed(offsite, "/usr/local/sbin/stackyard-backup")
    offsite.ssh("mysql -e 'DROP TABLE sample.restore_check'")
    assert "doesn't exist" in rows(offsite)
    local = timed(offsite, "/usr/local/sbin/stackyard-restore")
    assert rows(offsite) == "first\nsecond\n"

    offsite.ssh(f"mysql -e 'DROP TABLE sample.restore_check' && rm -rf {DIRECTORY}/*Z")  # the disk is lost too
    remote = timed(offsite, "/usr/local/sbin/stackyard-restore --offsite")
    assert rows(offsite) == "first\nsecond\n"
    FIGURES.append(f"backups: one run with its off-site copy {backup:.1f} s; restore from here {local:.1f} s, "
                   f"from off-site {remote:.1f} s")


def test_each_side_keeps_its_newest_and_partial_runs_go(offsite: LocalStack, s3: str) -> None:
    offsite.ssh(f"mkdir {DIRECTORY}/20000101T000000Z.partial")  # what a run that died leaves
    offsite.ssh("rm -f /etc/cron.d/stackyard-backup")  # no cron run in between: the counts are exact
    try:
        for _ in range(KEEP + 2):
            offsite.ssh("/usr/local/sbin/stackyard-backup")
            time.sleep(1.1)  # dump directories are named by the second
        local = dumps(offsite)
        snapshots = json.loads(offsite.ssh(RESTIC + "restic snapshots --json").stdout)
        FIGURES.append(f"backups after {KEEP + 2} runs with keep {KEEP}: {len(local)} here, {len(snapshots)} "
                       f"restic snapshots off-site in {objects(s3)} S3 objects")
        assert len(local) == KEEP and not any(name.endswith(".partial") for name in local)
        assert len(snapshots) == KEEP
        # Encrypted before it left: a plain copy would name its files; restic's keys are hashes and its
        # trees, which hold the names, are encrypted.
        assert not any(b"mysql.sql.gz" in key.encode() + body for key, body in bucket(s3))
    finally:
        offsite.up("--replace", offsite.urn("local-box-setup-backups"))
    assert os.path.exists(local_host.PATHS.disk / "etc/cron.d/stackyard-backup")
