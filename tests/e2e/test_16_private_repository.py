"""A private repository cloned over SSH with the service's deploy key, the git server's key pinned.

A git server over SSH runs on this machine's end of the host's link (an sshd of its own, which lets the
deploy key run only git-shell), serving the FastAPI sample's repository. The service's source points
at it with `deployKey` and `knownHosts`: a new commit deploys from it; the key is root's alone on the
host and never in a command line or a URL; a git server answering with another key is refused.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from helpers.sshd import LoopbackSshd, SshdUnavailable
from helpers.workspace import make_tmp

from local import LocalStack, local_host

SOURCE = "systems.local.services.fastapi-sample.source"


class GitServer(LoopbackSshd):
    host = local_host.HOST_IP


@pytest.fixture
def git_server(stack: LocalStack) -> Iterator[tuple[GitServer, str]]:
    try:
        server = GitServer().start()
    except SshdUnavailable as why:
        pytest.skip(str(why))
    key = make_tmp("stackyard-deploy-key-") / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deploy", "-f", str(key)], check=True)
    with open(server.dir / "authorized_keys", "a") as keys:
        keys.write(f'restrict,command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"" {key.with_suffix(".pub").read_text()}')
    original = {}

    def keep(system: dict) -> None:
        original.update(system["services"]["fastapi-sample"]["source"])

    stack.edit_system(keep)
    try:
        yield server, key.read_text()
    finally:
        stack.edit_system(lambda system: system["services"]["fastapi-sample"].update(source=original))
        stack.up()
        server.stop()


def point_at(stack: LocalStack, server: GitServer, known_host: str, ref: str) -> None:
    bare = local_host.PATHS.repos / "fastapi-sample.git"
    stack.edit_system(lambda system: system["services"]["fastapi-sample"].update(source={
        "repo": f"ssh://root@{server.host}:{server.port}{bare}", "ref": ref,
        "deployKey": {"secret": "localDeployKey"}, "knownHosts": [f"[{server.host}]:{server.port} {known_host}"]}))


def test_a_new_commit_deploys_from_the_private_repository_with_the_deploy_key(stack: LocalStack, git_server) -> None:
    server, private_key = git_server
    stack.ws.set_secret("local", "localDeployKey", private_key)
    sha = stack.publish("fastapi-sample", "private", tag="v-private")
    point_at(stack, server, server.host_key, "v-private")
    result = stack.up()
    assert stack.ssh("cat /srv/fastapi-sample/active").stdout.split()[1] == sha
    assert '"version":"private"' in stack.health("fastapi.stackyard.test")[1]
    assert "Accepted publickey for root" in server.log()
    assert stack.ssh("stat -c '%U %a' /etc/stackyard/fastapi-sample/deploy-key").stdout.split() == ["root", "600"]
    assert private_key.strip().splitlines()[1] not in result.output
    assert stack.ssh("grep -c 'PRIVATE KEY' /srv/fastapi-sample/deploy || true").stdout.strip() == "0"


def test_a_git_server_with_another_key_is_refused(stack: LocalStack, git_server) -> None:
    server, private_key = git_server
    stack.ws.set_secret("local", "localDeployKey", private_key)
    stack.publish("fastapi-sample", "impostor", tag="v-impostor")
    other = make_tmp("stackyard-other-host-key-") / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    point_at(stack, server, " ".join(other.with_suffix(".pub").read_text().split()[:2]), "v-impostor")
    result = stack.up(check=False)
    assert result.returncode != 0
    assert "Host key verification failed" in result.output or "REMOTE HOST IDENTIFICATION" in result.output
    assert '"version":"impostor"' not in stack.health("fastapi.stackyard.test")[1]
