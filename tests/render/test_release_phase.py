"""The release phase (components/render/shell/release.sh), run for real in the deploy script's scratch host
(tests/helpers/deploy_host.py): once per release, after its build and before any of its processes
starts, with the service's env; a failing command stops the deploy with the serving slot untouched; a
deploy killed in it runs it again; env secrets never reach its output, whatever they hold."""

from __future__ import annotations

import random
import re

import pytest
from helpers.deploy_host import DeployHost
from helpers.hostile import HOSTILE

from components.render.runtimes import runtime_of

MIGRATE = 'echo "migrating $(cat app.txt) for $APP_NAME" >> "$HOME/migrations.log"; echo migrated'


@pytest.fixture
def host(tmp_path) -> DeployHost:
    return DeployHost(tmp_path)


def write_env(host: DeployHost, values: dict[str, str]) -> None:
    """The release env file the setup writes (systemd's form)."""
    path = host.at(host.plan().paths.release_env_file("mivaa"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(runtime_of("systemd").env_file(values))


def plan_of(host: DeployHost, **changes):
    """The scratch host's service on ports of its own: the deploy tests run side by side (pytest -n), and
    test_deploy_script holds real listeners on the default plan's slot ports."""
    return host.plan(port=8700, **changes)


def migrations(host: DeployHost) -> list[str]:
    log = host.at("var/lib/stackyard/mivaa/migrations.log")
    return log.read_text().splitlines() if log.exists() else []


def test_it_runs_once_per_release_after_the_build_and_before_any_process(host: DeployHost) -> None:
    plan = plan_of(host, release=(MIGRATE,))
    write_env(host, {"APP_NAME": "mivaa"})
    first = host.deploy(plan)
    assert first.returncode == 0, first.stdout + first.stderr
    assert migrations(host) == ["migrating v1 for mivaa"]  # in the release, with the env
    assert "migrated" in first.stdout  # its output in the deploy's log
    calls = host.calls()
    ran = calls.index(f"systemd-run svc-mivaa {MIGRATE}")
    started = next(i for i, call in enumerate(calls) if call.startswith("systemctl restart stackyard-mivaa-"))
    assert ran < started
    assert host.deploy(plan).returncode == 0  # nothing changed
    restarted = host.deploy(plan, ref="--restart")  # started again in the other slot, as a changed env would
    assert restarted.returncode == 0 and "starting" in restarted.stdout, restarted.stdout
    assert migrations(host) == ["migrating v1 for mivaa"]  # an unchanged release: not again
    host.commit("v2")
    assert host.deploy(plan).returncode == 0
    assert migrations(host) == ["migrating v1 for mivaa", "migrating v2 for mivaa"]
    assert host.violations() == []


def test_a_failing_command_stops_the_deploy_with_the_serving_slot_untouched(host: DeployHost) -> None:
    plan = plan_of(host, release=(MIGRATE,))
    write_env(host, {"APP_NAME": "mivaa"})
    first = host.git("rev-parse", "HEAD")
    assert host.deploy(plan).returncode == 0
    running, upstream = host.running(), host.upstream()
    host.commit("v2")
    failing = plan_of(host, release=(MIGRATE, "echo 'relation \"orders\" does not exist' >&2; exit 3", "echo never"))
    result = host.deploy(failing)
    assert result.returncode == 1
    assert 'relation "orders" does not exist' in result.stdout  # the command's own output, shown
    assert "failed (exit status 3)" in result.stdout and "keeps serving " + first in result.stdout
    assert "never" not in result.stdout.replace("echo never", "")  # the phase stopped at the failure
    assert host.running() == running and host.upstream() == upstream and host.active() == ("blue", first)
    assert not any(call.startswith("systemctl restart stackyard-mivaa-green") for call in host.calls())
    # Fixed, the next deploy runs the phase again and goes on.
    fixed = host.deploy(plan_of(host, release=(MIGRATE, "true")))
    assert fixed.returncode == 0, fixed.stdout
    assert migrations(host)[-1] == "migrating v2 for mivaa"
    assert host.violations() == []


def test_a_deploy_killed_in_the_release_phase_runs_it_again(host: DeployHost) -> None:
    plan = plan_of(host, release=(MIGRATE,))
    write_env(host, {"APP_NAME": "mivaa"})
    assert host.deploy(plan).returncode == 0
    host.commit("v2")
    # Killed at each counted call in turn, on a copy of the host as it is now, until the kill lands on the
    # release phase's transient unit.
    for at in range(1, 200):
        killed = host.copy_to(host.tmp / f"killed-at-{at}")
        result = killed.deploy(plan, inject=(at, "kill"))
        if killed.injected().startswith("systemd-run"):
            break
    else:
        raise AssertionError("no deploy call was the release phase's")
    assert result.returncode != 0
    host = killed
    assert host.active()[1] != host.git("rev-parse", "HEAD")  # still the old release
    again = host.deploy(plan)
    assert again.returncode == 0, again.stdout
    assert migrations(host)[-1] == "migrating v2 for mivaa"
    assert host.violations() == []


def hostile_secrets(count: int, seed: int = 3) -> list[str]:
    """Generated secrets full of what a masking filter could trip on: regex and shell syntax, quotes,
    backslashes, newlines, non-ASCII; then the hostile corpus (not NUL, which no env file holds)."""
    rng = random.Random(seed)
    alphabet = "abcXYZ0189.*+?()[]{}|^$\\/\"'`@:#% \t\né日"
    made = ["".join(rng.choice(alphabet) for _ in range(rng.randint(8, 40))) for _ in range(count)]
    return made + [v for v in HOSTILE.values() if "\x00" not in v and len(v) < 5000]


def test_no_env_secret_reaches_the_output_whatever_it_holds(host: DeployHost) -> None:
    secrets = hostile_secrets(40)
    env = {f"SECRET_{i}": value for i, value in enumerate(secrets)}
    env["PUBLIC_URL"] = "https://shop.example.com"
    write_env(host, env)
    # The command prints every variable, as a migration's traceback or a debug dump would.
    plan = plan_of(host, release=("env",), secret_env_keys=tuple(sorted(k for k in env if k.startswith("SECRET_"))))
    result = host.deploy(plan)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "PUBLIC_URL=https://shop.example.com" in result.stdout  # a plain value is shown
    # (The deploy's output is read as text: a carriage return there reads as a newline.)
    for name, value in env.items():
        if name.startswith("SECRET_"):
            for piece in re.split(r"[\r\n]", value):
                assert len(piece) < 6 or piece not in result.stdout, (name, piece)
    assert result.stdout.count("[secret SECRET_") >= len(secrets) // 2
