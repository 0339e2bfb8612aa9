"""The deploy script stopped at every step: killed (SIGKILL, as a crash or `kill -9` would) or failing
(the step's command exits 1), then the next deploy run as `pulumi up` would run it.

Each stubbed or wrapped command of a deploy is a step (tests/helpers/deploy_host.py): systemctl, nginx, curl,
runuser, chown, and every mv, ln, cp, rm, touch, chmod, mkdir and git. For each one in turn, on a copy
of a host serving v1, the deploy of v2 is stopped there. Throughout, the stubs check what a fixed load
would see: nginx never routes to a port nothing serves. After the stop, a slot the proxy routes to is
serving; after the next deploy, v2 serves from the slot `active` names, the proxy routes there, and
the other slot is stopped.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers.deploy_host import DeployHost, unit_ports

from components.render.proxy import upstream_file

BLUE, GREEN = {9000, 9001, 9002}, {10000, 10001, 10002}


@pytest.fixture(scope="module")
def serving_v1(tmp_path_factory) -> tuple[DeployHost, str, int]:
    """A host serving v1 from blue, v2 committed, and how many steps a deploy of v2 takes."""
    host = DeployHost(tmp_path_factory.mktemp("serving-v1"))
    files = host.at("/etc/stackyard/mivaa/files")
    files.mkdir(parents=True)
    (files / "key.json").write_text("secret")
    host.env_file().write_text('LOG_LEVEL="info"\n')
    assert host.deploy().returncode == 0
    v2 = host.commit("v2")
    counting = host.copy_to(tmp_path_factory.mktemp("count"))
    done = counting.deploy(inject=(10**6, "kill"))
    assert done.returncode == 0, done.stdout + done.stderr
    return host, v2, counting.count()


def stopped_then_redeployed(host: DeployHost, v2: str, tmp: Path, step: int, mode: str) -> list[str]:
    """Problems seen when v2's deploy stops at ``step`` and the next one runs."""
    copy = host.copy_to(tmp)
    stopped = copy.deploy(inject=(step, mode))
    problems = []
    where = f"{mode} at step {step} ({copy.injected() or 'never reached'})"
    # A failed health probe is tried again, by design; any other failed step fails the deploy.
    if stopped.returncode == 0 and copy.injected() and not copy.injected().startswith("curl"):
        problems.append(f"{where}: the deploy reported success")
    loaded = {int(line.split(":")[1].split()[0]) for line in copy.loaded().splitlines() if "127.0.0.1:" in line}
    if not loaded <= unit_ports(copy.running()):
        problems.append(f"{where}: nginx routes to {sorted(loaded)}, running {sorted(unit_ports(copy.running()))}")
    again = copy.deploy()
    if again.returncode != 0:
        problems.append(f"{where}: the next deploy failed:\n{again.stdout}{again.stderr}")
        return problems
    if copy.active() != ("green", v2):
        problems.append(f"{where}: active is {copy.active()} after the next deploy")
    if "127.0.0.1:10000" not in copy.upstream() or "127.0.0.1:10000" not in copy.loaded():
        problems.append(f"{where}: the proxy does not route to green after the next deploy")
    if unit_ports(copy.running()) != GREEN:
        problems.append(f"{where}: running {sorted(unit_ports(copy.running()))} after the next deploy")
    if (copy.base / "slots/green/app.txt").read_text() != "v2":
        problems.append(f"{where}: the green slot does not hold v2")
    problems += [f"{where}: {v}" for v in copy.violations()]
    return problems


@pytest.mark.parametrize("mode", ["kill", "fail"])
def test_a_deploy_stopped_at_any_step_never_leaves_the_proxy_without_a_slot_and_the_next_one_repairs_it(
        serving_v1, tmp_path: Path, mode: str) -> None:
    host, v2, steps = serving_v1
    assert steps > 30  # the build, the slot, the health checks, the switch and the clean-up
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda step: stopped_then_redeployed(host, v2, tmp_path / str(step), step, mode),
                           range(1, steps + 1))
        problems = [problem for found in results for problem in found]
    assert problems == []


def test_a_proxy_switched_before_active_was_written_is_adopted_not_stopped(tmp_path: Path) -> None:
    """The review's torn deploy: the proxy on the new slot, `active` still naming the old one, and the next
    deploy's health check failing. It must not stop the slot that serves, and must say what it did."""
    host = DeployHost(tmp_path / "host")
    assert host.deploy().returncode == 0
    v2 = host.commit("v2")
    # Stop v2's deploy at the first step after nginx loaded the green upstream.
    for step in range(1, 200):
        torn = host.copy_to(tmp_path / f"step-{step}")
        torn.deploy(inject=(step, "kill"))
        if "127.0.0.1:10000" in torn.loaded():
            break
    else:
        pytest.fail("no step of the deploy loads the green upstream")
    assert torn.active()[0] == "blue"  # torn: the proxy on green, `active` on blue
    host.commit("v3")
    torn.script_health(9000, *["fail"] * 20)  # v3, in blue once green is adopted, never answers
    result = torn.deploy()
    assert "repair: the proxy routes to the green slot: it is the active one" in result.stdout
    assert result.returncode == 1
    assert torn.active() == ("green", v2)
    assert unit_ports(torn.running()) == GREEN
    assert "127.0.0.1:10000" in torn.loaded()
    assert torn.violations() == []


def loaded_ports(host: DeployHost) -> set[int]:
    return {int(line.split(":")[1].split()[0]) for line in host.loaded().splitlines() if "127.0.0.1:" in line}


def test_a_repair_killed_at_any_step_then_a_failing_deploy_never_stops_what_the_proxy_routes_to(
        serving_v1, tmp_path: Path) -> None:
    """Two kills: a deploy killed after its switch (the proxy on green, `active` blue); the next one, whose
    probe of green fails once, switches back to blue and is killed at each of its steps in turn; then a
    deploy whose probes all fail. The switch back moves the upstream file, then reloads: killed between,
    the file said blue while nginx routed to green, and the failing deploy stopped green under it."""
    host, _, _ = serving_v1
    low, high, tried = 1, 400, {}

    def killed_at(step: int) -> DeployHost:
        if step not in tried:
            tried[step] = host.copy_to(tmp_path / f"first-{step}")
            tried[step].deploy(inject=(step, "kill"))
        return tried[step]

    while low < high:  # the first step killed after which nginx routes to green: the switch
        middle = (low + high) // 2
        low, high = (low, middle) if 10000 in loaded_ports(killed_at(middle)) else (middle + 1, high)
    torn = killed_at(low)
    assert torn.active()[0] == "blue" and 10000 in loaded_ports(torn)
    counting = torn.copy_to(tmp_path / "count")
    counting.script_health(10000, "fail")
    assert counting.deploy(inject=(10**6, "kill")).returncode == 0

    def walk(step: int) -> list[str]:
        copy = torn.copy_to(tmp_path / f"second-{step}")
        copy.script_health(10000, "fail")
        copy.deploy(inject=(step, "kill"))
        where = f"second deploy killed at step {step} ({copy.injected()})"
        for port in BLUE | GREEN:
            copy.script_health(port, *["fail"] * 40)
        failing = copy.deploy()
        loaded, running = loaded_ports(copy), unit_ports(copy.running())
        if not loaded or not loaded <= running:
            return [f"{where}: nginx routes to {sorted(loaded)}, running {sorted(running)}\n{failing.stdout}"]
        return [f"{where}: {v}" for v in copy.violations()]

    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for found in pool.map(walk, range(1, counting.count() + 1)) for p in found]
    assert problems == []


@pytest.fixture(scope="module")
def upstream_written_afresh(tmp_path_factory) -> tuple[DeployHost, str, str, int]:
    """A host serving v2 from green whose upstream was written afresh (a proxy added to the host, or of
    another kind): nginx routes to blue, where nothing runs. v3 is committed; how many steps the deploy
    of v2 that repairs it takes."""
    host = DeployHost(tmp_path_factory.mktemp("afresh"))
    assert host.deploy().returncode == 0
    v2 = host.commit("v2")
    assert host.deploy().returncode == 0
    assert host.active() == ("green", v2)
    upstream = host.at("/etc/stackyard/upstreams/mivaa.nginx")
    upstream.write_text(upstream_file(host.plan(), "nginx"))
    (host.tmp / "loaded").write_text(upstream.read_text())  # the proxy step's reload
    assert loaded_ports(host) == BLUE
    v3 = host.commit("v3")
    counting = host.copy_to(tmp_path_factory.mktemp("afresh-count"))
    assert counting.deploy(ref=v2, inject=(10**6, "kill")).returncode == 0
    return host, v2, v3, counting.count()


@pytest.mark.parametrize("mode", ["kill", "fail"])
def test_a_repair_back_to_the_committed_slot_stopped_at_any_step_is_finished_by_the_next_deploy(
        upstream_written_afresh, tmp_path: Path, mode: str) -> None:
    """The repair of an upstream written afresh switches back to green: the upstream file is moved, then
    nginx reloads. Stopped between the two, the file named green while nginx routed to blue; the next
    deploy, finding the file on the active slot, reloaded nothing: with the same commit it said "already
    serving" (exit 0) while nginx routed where nothing runs, and a new commit's release went to blue under
    nginx. For each step: the same commit again must leave nginx on green, and so must a failing v3."""
    host, v2, v3, steps = upstream_written_afresh
    assert steps >= 5  # the switch back: the mark, the copy, the move, the check, the reload

    def walk(step: int) -> list[str]:
        problems = []
        stopped = host.copy_to(tmp_path / f"{step}")
        result = stopped.deploy(ref=v2, inject=(step, mode))
        where = f"{mode} at step {step} ({stopped.injected() or 'never reached'})"
        if result.returncode == 0 and stopped.injected():
            problems.append(f"{where}: the deploy reported success")
        # nginx routed to blue, where nothing runs, before the repair began: a reload that leaves it there
        # (the file was not moved yet, and the repair loads it before it reads it) is no new outage.
        (stopped.tmp / "violations").unlink(missing_ok=True)
        dead = loaded_ports(stopped) - unit_ports(stopped.running())

        def new_violations(host: DeployHost) -> list[str]:
            return [v for v in host.violations() if not (
                v.startswith("systemctl reload nginx:") and int(v.split("routes to ")[1].split(",")[0]) in dead)]

        again = stopped.copy_to(tmp_path / f"{step}-again")
        redeployed = again.deploy(ref=v2)
        if redeployed.returncode != 0 or loaded_ports(again) != GREEN or unit_ports(again.running()) != GREEN:
            problems.append(f"{where}: v2 again: exit {redeployed.returncode}, nginx routes to "
                            f"{sorted(loaded_ports(again))}, running {sorted(unit_ports(again.running()))}\n"
                            f"{redeployed.stdout}{redeployed.stderr}")
        problems += [f"{where}: v2 again: {v}" for v in new_violations(again)]
        failing = stopped.copy_to(tmp_path / f"{step}-failing")
        for port in BLUE:
            failing.script_health(port, *["fail"] * 40)
        failed = failing.deploy(ref=v3)
        if failed.returncode != 1 or loaded_ports(failing) != GREEN or failing.active() != ("green", v2):
            problems.append(f"{where}: failing v3: exit {failed.returncode}, nginx routes to "
                            f"{sorted(loaded_ports(failing))}, active {failing.active()}\n{failed.stdout}")
        problems += [f"{where}: failing v3: {v}" for v in new_violations(failing)]
        return problems

    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for found in pool.map(walk, range(1, steps + 1)) for p in found]
    assert problems == []
