"""The production stack file through the real CLI: its encrypted secrets, the passphrase commands the
operating doc gives, and bad stack files reaching the user as one clean error."""

from __future__ import annotations

import copy
import re
import subprocess

import pytest
import yaml
from helpers.harness import referenced_secrets
from helpers.stack_mistakes import CASES
from helpers.workspace import DEMO_PASSPHRASE, ROOT, Workspace, repository_copy

PRODUCTION = ROOT / "Pulumi.production.yaml"
PROVIDER_KEYS = ("hcloud:token", "digitalocean:token", "cloudflare:apiToken", "vercel:apiToken", "github:token")


def test_every_secret_decrypts_with_the_demo_passphrase_to_a_placeholder(workspace) -> None:
    ws = workspace()
    ws.init("production", copy_from=PRODUCTION)
    shown = ws.run("config", "--stack", "production", "--show-secrets", "--json").json()
    names = [f"stackyard:{name}" for name in sorted(referenced_secrets(yaml.safe_load(PRODUCTION.read_text())
                                                                           ["config"]))]
    for key in [*names, *PROVIDER_KEYS]:
        assert shown[key]["secret"] is True, key
        assert shown[key]["value"].startswith("PLACEHOLDER-"), key
    assert len(shown["hcloud:token"]["value"]) == 64  # the Hetzner provider refuses any other length


def test_the_readme_commands_move_the_stack_to_the_operators_passphrase(workspace) -> None:
    ws = workspace()
    ws.init("production", copy_from=PRODUCTION)
    readme = (ROOT / "docs" / "operating.md").read_text()
    assert "pulumi stack change-secrets-provider passphrase --non-interactive" in readme
    ws.run("stack", "change-secrets-provider", "passphrase", "--stack", "production", stdin="operator-own-phrase\n")
    ws.passphrase = "operator-own-phrase"
    ws.set_secret("production", "openaiApiKey", "sk-operator-real-value")
    assert ws.run("config", "get", "stackyard:openaiApiKey", "--stack", "production").stdout.strip() == (
        "sk-operator-real-value")
    assert ws.run("config", "get", "stackyard:jwtSecretKey", "--stack", "production").stdout.strip() == (
        "PLACEHOLDER-jwtSecretKey")
    ws.passphrase = DEMO_PASSPHRASE
    refused = ws.run("config", "get", "stackyard:jwtSecretKey", "--stack", "production", check=False)
    assert refused.returncode != 0 and "incorrect passphrase" in refused.output


CLI_CASES = ["misspelt key", "record pointing at an unknown host", "reference to a secret that is not set",
             "service ports clashing on one host", "Supabase project ref that is not one"]


@pytest.fixture(scope="module")
def broken_stack(pulumi_bin, tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("stack-files"), pulumi_bin, standins=True)
    ws.init("broken", copy_from=PRODUCTION)
    return ws


def preview_with(ws: Workspace, mutate) -> tuple[int, str]:
    document = yaml.safe_load(PRODUCTION.read_text())
    config = copy.deepcopy(document["config"])
    mutate(config)
    ws.stack_file("broken").write_text(yaml.safe_dump({**document, "config": config}, sort_keys=False))
    result = ws.run("preview", "--stack", "broken", check=False)
    return result.returncode, result.output


@pytest.mark.parametrize("case", CLI_CASES)
def test_a_bad_stack_file_is_one_clean_error_from_the_cli(broken_stack: Workspace, case: str) -> None:
    _, mutate, path, fragment = next(c for c in CASES if c[0] == case)
    code, output = preview_with(broken_stack, mutate)
    assert code != 0
    assert re.search(r"error: the stack config has \d+ problems?:", output), output
    line = next((line for line in output.splitlines() if line.strip().startswith(f"{path}:")), None)
    assert line is not None and fragment in line, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    assert not re.search(r"^\s*\+\s+(hcloud|cloudflare|command|random)", output, re.M)  # no resource planned


def test_a_secret_set_in_plain_text_is_named_with_the_command_that_fixes_it(broken_stack: Workspace) -> None:
    def plain_secret(config: dict) -> None:
        config["stackyard:firebaseWebApiKey"] = "AIza-typed-without---secret"

    code, output = preview_with(broken_stack, plain_secret)
    assert code != 0
    assert "stackyard:firebaseWebApiKey is stored in plain text" in output
    assert "pulumi config set --secret stackyard:firebaseWebApiKey" in output
    assert "Traceback" not in output


def test_a_login_key_the_host_would_refuse_is_one_clean_error(workspace, tmp_path) -> None:
    import subprocess

    keys = {}
    for name in ("deploy", "operator"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(tmp_path / name)],
                       check=True)
        keys[name] = ((tmp_path / name).read_text(), (tmp_path / f"{name}.pub").read_text().strip())
    ws = workspace(standins=True)
    ws.init("keys", config={
        "stackyard:sshKeys": [keys["operator"][1]],
        "stackyard:systems": {"box": {"hosts": {"api": {
            "provider": "hetzner", "serverType": "cx22", "location": "fsn1", "provision": False,
            "access": {"privateKey": {"secret": "boxKey"}}}}}},
    }, secrets={"boxKey": keys["deploy"][0], "hcloud:token": "x" * 64})
    result = ws.run("preview", "--stack", "keys", check=False)
    assert result.returncode != 0
    assert "systems.box.hosts.api.access.privateKey: the host would not let this key in" in result.output
    assert "Traceback" not in result.output
    assert keys["deploy"][0].splitlines()[1] not in result.output  # the private key itself is never shown


def make_preview(tmp_path, stack_text: str, pulumi_bin) -> tuple[int, str]:
    """`make preview STACK=broken` as a user runs it, in a copy of the repository (its venvs the
    repository's own) with ``stack_text`` as Pulumi.broken.yaml: the stand-ins seeded, then the preview."""
    copy_, env = repository_copy(tmp_path, pulumi_bin)
    (copy_ / "Pulumi.broken.yaml").write_text(stack_text)
    env["PULUMI_CONFIG_PASSPHRASE"] = DEMO_PASSPHRASE
    done = subprocess.run(["make", "--no-print-directory", "preview", "STACK=broken"], cwd=copy_, env=env,
                          capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


def test_make_preview_of_a_bad_stack_file_prints_the_clean_error_and_no_traceback(pulumi_bin, tmp_path) -> None:
    _, mutate, path, fragment = next(c for c in CASES if c[0] == "misspelt key")
    document = yaml.safe_load(PRODUCTION.read_text())
    mutate(document["config"])
    code, output = make_preview(tmp_path, yaml.safe_dump(document, sort_keys=False), pulumi_bin)
    assert code != 0
    assert "Traceback" not in output, output[-4000:]
    line = next((line for line in output.splitlines() if line.strip().startswith(f"{path}:")), None)
    assert line is not None and fragment in line, output[-4000:]
    assert output.count(f"{path}:") == 1, output[-4000:]  # once, before any engine ran


def test_make_preview_of_a_stack_file_that_is_not_yaml_names_it_with_no_traceback(pulumi_bin, tmp_path) -> None:
    text = PRODUCTION.read_text().replace("config:\n", "config:\n  stackyard:broken: [unclosed\n", 1)
    code, output = make_preview(tmp_path, text, pulumi_bin)
    assert code != 0
    assert "Traceback" not in output, output[-4000:]
    assert "Pulumi.broken.yaml" in output, output[-4000:]
