"""Secrets that change reach the running processes, byte for byte.

- A secret of every awkward shape (a PEM key's lines, a tab, `$`, quotes, backslashes, non-ASCII) set
  as an env value of the systemd service and of the PM2 service: `pulumi up` restarts each through the
  health-gated switch under load, and the value inside the new process (/proc/<pid>/environ) is the
  secret, byte for byte.
- A secret file: rotated with the commit unchanged, it makes a new release of the same commit, started
  through the switch under load; the process that serves afterwards is a new one, and its file is the
  new secret. (Before, the deploy said "serving" while both slots kept the old file.)
"""

from __future__ import annotations

import time

from load import Load
from local import FIGURES, LocalStack

FASTAPI = "fastapi.stackyard.test"
NASTY = ("-----BEGIN TEST KEY-----\nMIIB\tline2 $HOME ${HOME} $(id) `id` 'single' \"double\" back\\slash %i %n\n"
         "é 日本語 ü\n-----END TEST KEY-----")


def serving_pid(stack: LocalStack, service: str) -> str:
    """The process listening on the first port of the serving slot."""
    color = stack.ssh(f"cut -d' ' -f1 /srv/{service}/active").stdout.strip()
    port = {"fastapi-sample": 8000, "flask-sample": 5000}[service] + (1000 if color == "blue" else 2000)
    line = stack.ssh(f"ss -Hltnp 'sport = :{port}'").stdout
    return line.split("pid=")[1].split(",")[0]


def environ(stack: LocalStack, pid: str) -> dict[str, bytes]:
    raw = stack.ssh(f"base64 -w0 /proc/{pid}/environ").stdout
    import base64

    pairs = base64.b64decode(raw).split(b"\0")
    return {k.decode(): v for k, _, v in (p.partition(b"=") for p in pairs if p)}


def up_under_load(stack: LocalStack, hostname: str):
    with Load(hostname, 20) as load:
        time.sleep(1)
        result = stack.up()
        time.sleep(1)
    return result, load.tally


def test_an_env_secret_of_any_shape_reaches_both_runtimes_byte_for_byte(stack: LocalStack) -> None:
    before = {name: serving_pid(stack, name) for name in ("fastapi-sample", "flask-sample")}
    stack.ws.set_secret("local", "localApiKey", NASTY)
    stack.ws.set_secret("local", "localSessionSecret", NASTY)
    assert stack.ws.run("config", "get", "--stack", "local", "stackyard:localApiKey").stdout.rstrip("\n") == NASTY
    result, tally = up_under_load(stack, FASTAPI)
    stack.outputs.append(result.output)
    FIGURES.append(f"env secret changed, commit unchanged: pulumi up under 20 req/s: {tally.summary()}")
    assert tally.failed == 0, tally.summary()
    for service, key in (("fastapi-sample", "API_KEY"), ("flask-sample", "SESSION_SECRET")):
        pid = serving_pid(stack, service)
        assert pid != before[service], service  # a new process, started through the switch
        assert environ(stack, pid)[key] == NASTY.encode(), service
    assert NASTY not in result.output


def test_a_rotated_secret_file_reaches_a_new_process_with_the_commit_unchanged(stack: LocalStack) -> None:
    stack.ws.set_secret("local", "localFileToken", "first token")
    stack.edit_system(lambda system: system["services"]["fastapi-sample"].update(
        files={"secrets/token.txt": {"secret": "localFileToken"}}))
    stack.up()
    active = stack.ssh("cat /srv/fastapi-sample/active").stdout.split()
    assert stack.ssh("cat /srv/fastapi-sample/current/secrets/token.txt").stdout == "first token"
    pid = serving_pid(stack, "fastapi-sample")
    stack.ws.set_secret("local", "localFileToken", "rotated token")
    result, tally = up_under_load(stack, FASTAPI)
    FIGURES.append(f"secret file rotated, commit unchanged: pulumi up under 20 req/s: {tally.summary()}")
    assert tally.failed == 0, tally.summary()
    now = stack.ssh("cat /srv/fastapi-sample/active").stdout.split()
    assert now[1] == active[1] and now[0] != active[0]  # the same commit, started again in the other slot
    assert now[3] != active[3]  # in a new release: <commit>-<digest of the files>
    assert serving_pid(stack, "fastapi-sample") != pid
    served = stack.ssh(f"readlink -f /srv/fastapi-sample/slots/{now[0]}").stdout.strip()
    assert stack.ssh(f"cat {served}/secrets/token.txt").stdout == "rotated token"
    assert "rotated token" not in result.output
