"""A service's ref resolved to a commit from the operator's machine (components/git_refs.py), against real
git repositories in a scratch directory: a moved branch changes exactly that service's deploy."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
from helpers.harness import canary_secrets, production_config, run_program

from components import git_refs

GIT = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], env=GIT, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(repo: Path, text: str) -> str:
    (repo / "app.txt").write_text(text)
    git(repo, "add", "app.txt")
    git(repo, "commit", "--quiet", "-m", text)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "app"
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(path)], env=GIT, check=True)
    monkeypatch.setenv("STACKYARD_RESOLVE_REFS", "on")
    git_refs.resolve.cache_clear()
    yield path
    git_refs.resolve.cache_clear()


def test_branches_tags_and_commits_resolve_to_commits(repo: Path) -> None:
    first = commit(repo, "v1")
    git(repo, "tag", "-a", "v1.0", "-m", "release")  # annotated: its own object, pointing at the commit
    second = commit(repo, "v2")
    git(repo, "tag", "light", first)
    assert git_refs.resolve(str(repo), "main") == second
    assert git_refs.resolve(str(repo), "v1.0") == first
    assert git_refs.resolve(str(repo), "light") == first
    assert git_refs.resolve(str(repo), first) == first  # a commit is its own answer, asked of nobody


def test_a_branch_wins_over_a_tag_of_the_same_name_as_on_the_host(repo: Path) -> None:
    tagged = commit(repo, "v1")
    git(repo, "tag", "release", tagged)
    branch_tip = commit(repo, "v2")
    git(repo, "branch", "release")
    assert git_refs.resolve(str(repo), "release") == branch_tip


def test_unknown_refs_and_unreachable_repositories_say_why(repo: Path, tmp_path: Path) -> None:
    commit(repo, "v1")
    with pytest.raises(git_refs.Unresolved, match="no branch or tag nope"):
        git_refs.resolve(str(repo), "nope")
    with pytest.raises(git_refs.Unresolved):
        git_refs.resolve(str(tmp_path / "missing"), "main")


def every_service_from(repo: Path) -> dict:
    """The production stack with each service's repository a local one: nothing is asked of a network."""
    config = copy.deepcopy(production_config())
    for system in config["stackyard:systems"].values():
        for service in system.get("services", {}).values():
            service["source"]["repo"] = f"file://{repo}"
    return config


def test_a_moved_branch_redeploys_every_service_on_it_and_nothing_else(repo: Path) -> None:
    first = commit(repo, "v1")
    config = every_service_from(repo)
    before = run_program(config, canary_secrets(config))
    deploy = before.named("material-kai-mivaa-setup-mivaa-deploy").inputs
    assert deploy["create"] == f"sudo -n /srv/mivaa/deploy {first}"  # the preview shows the commit
    second = commit(repo, "v2")
    git_refs.resolve.cache_clear()  # a new `pulumi preview` is a new process
    after = run_program(config, canary_secrets(config))
    changed = {r.name for r in after.of_type("command:remote:Command")
               if r.wire != before.named(r.name, r.type).wire}
    assert changed == {r.name for r in after.of_type("command:remote:Command") if r.name.endswith("-deploy")}
    assert len(changed) == 6
    assert after.named("material-kai-mivaa-setup-mivaa-deploy").inputs["create"].endswith(second)


def test_an_unresolvable_ref_is_deployed_as_it_is_with_a_warning(repo: Path, tmp_path: Path) -> None:
    config = every_service_from(tmp_path / "gone")  # file://<path>: nothing there
    run = run_program(config, canary_secrets(config))
    assert run.named("material-kai-mivaa-setup-mivaa-deploy").inputs["create"] == "sudo -n /srv/mivaa/deploy main"
    assert any("service mivaa: could not resolve ref 'main'" in line for line in run.logs)


@pytest.mark.parametrize("repo", ["--upload-pack=touch /tmp/stackyard-pwned-preview",
                                  "ext::sh -c touch% /tmp/stackyard-pwned-ext"])
def test_a_repository_that_is_an_option_or_a_command_runs_nothing_at_preview(repo: str, monkeypatch) -> None:
    """Even past the model (which refuses both): the preview's git takes it as a repository, and no
    transport that runs a command."""
    monkeypatch.setenv("STACKYARD_RESOLVE_REFS", "on")
    git_refs.resolve.cache_clear()
    with pytest.raises(git_refs.Unresolved):
        git_refs.resolve(repo, "main")
    assert not list(Path("/tmp").glob("stackyard-pwned-*"))
