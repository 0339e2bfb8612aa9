"""A server that answers with another host key gets nothing.

An impostor sshd runs on the host (port 2222, a host key of its own, the same authorized keys: it would
let stackyard in), and the stack is pointed at it with the real host's key pinned. The program asks the
address for its key before anything runs and stops, naming both fingerprints; with that check off, the
SSH connection itself (pulumi-command, pinned with FixedHostKey) refuses the key. Either way the
impostor accepted no login, so no env file, password or key ever reached it.
"""

from __future__ import annotations

import time

import pytest

from local import LocalStack

PORT_PATH = "stackyard:systems.local.hosts.box.access.sshPort"


@pytest.fixture
def impostor(stack: LocalStack):
    stack.ssh("install -d -m 0700 /tmp/impostor && rm -f /tmp/impostor/* && "
              "ssh-keygen -q -t ed25519 -N '' -f /tmp/impostor/host_key && "
              "ufw insert 1 allow 2222/tcp >/dev/null && "
              "systemd-run --unit=stackyard-impostor /usr/sbin/sshd -D -e -p 2222 -h /tmp/impostor/host_key "
              "-o PidFile=/tmp/impostor/pid -o LogLevel=VERBOSE")
    for _ in range(50):
        if stack.ssh("ss -Hltn 'sport = :2222' | grep -q .", check=False).returncode == 0:
            break
        time.sleep(0.2)
    stack.set_config(PORT_PATH, 2222)
    try:
        yield
    finally:
        stack.remove_config(PORT_PATH)
        stack.ssh("systemctl stop stackyard-impostor; ufw delete allow 2222/tcp >/dev/null; rm -rf /tmp/impostor",
                  check=False)


def logins(stack: LocalStack) -> str:
    return stack.ssh("journalctl --no-pager -q -u stackyard-impostor | grep -E 'Accepted|session opened' || true"
                     ).stdout


def test_the_program_stops_before_anything_runs_naming_both_keys(stack: LocalStack, impostor) -> None:
    result = stack.ws.preview("local", check=False)
    assert result.returncode != 0
    assert "presents the host key SHA256:" in result.output and "Nothing was sent to it" in result.output
    assert logins(stack) == ""


def test_the_connection_itself_refuses_the_key_when_nothing_asked_first(stack: LocalStack, impostor) -> None:
    stack.ws.extra_env["STACKYARD_CHECK_HOST_KEYS"] = "off"
    try:
        # The port changed in every step's connection: each runs again, and meets the impostor.
        result = stack.up(check=False)
    finally:
        stack.ws.extra_env.pop("STACKYARD_CHECK_HOST_KEYS")
    assert result.returncode != 0
    assert "host key mismatch" in result.output
    assert logins(stack) == ""
