"""The runtimes (components/render/runtimes/): one lookup, every runtime complete, and the rules each adds
tested directly, not only through whole programs."""

from __future__ import annotations

import pytest

from components.model.rules.findings import Findings
from components.model.topology import Service, Settings, Source, System
from components.render.runtimes import RUNTIMES, Runtime, runtime_of
from components.render.scripts import SHELL


def service(**fields) -> Service:
    base = {"host": "app", "runtime": "systemd", "source": Source(repo="https://example.com/r.git", ref="main")}
    return Service(**{**base, **fields})


def problems(runtime: str, svc: Service) -> list[tuple[str, str]]:
    rules = Findings(Settings(systems={}), lambda name: "secret", RUNTIMES)
    system = System(services={"api": svc})
    runtime_of(runtime).check(rules, "systems.s.services.api", svc, system)
    return rules.problems


def test_an_unknown_runtime_is_an_error_never_a_fallback() -> None:
    with pytest.raises(ValueError, match="unknown runtime 'pm3'; known: compose, pm2, systemd"):
        runtime_of("pm3")


@pytest.mark.parametrize("name", sorted(RUNTIMES))
def test_every_runtime_fills_in_what_a_deploy_needs(name: str) -> None:
    runtime = RUNTIMES[name]
    assert runtime.name == name
    assert (SHELL / f"runtime-{name}.sh").is_file()
    for method in ("definition_path", "definitions"):
        assert getattr(type(runtime), method) is not getattr(Runtime, method), f"{name} lacks {method}"
    assert runtime.env_file({"B": "2", "A": "1"}).startswith("A=")  # a line a key, in order
    # Each names the functions the deploy, the watchdog and a removal call.
    for function in ("start_slot", "stop_slot", "restart_instance", "thaw", "report_unit", "forget_runtime"):
        assert f"{function}()" in runtime.script, f"runtime-{name}.sh has no {function}"


@pytest.mark.parametrize("name", ["systemd", "pm2"])
def test_a_runtime_that_runs_a_command_needs_one(name: str) -> None:
    assert problems(name, service(runtime=name)) == [
        ("systems.s.services.api.command", f"required: the command that starts the service under {name}")]
    assert problems(name, service(runtime=name, command="serve")) == []


def test_compose_runs_the_image_s_command_and_its_containers_see_no_host_loopback() -> None:
    found = problems("compose", service(runtime="compose", command="serve", env={"API": "http://127.0.0.1:8000/x"}))
    assert [path for path, _ in found] == ["systems.s.services.api.command", "systems.s.services.api.env.API"]
    assert problems("compose", service(runtime="compose", env={"API": "http://api:8000/x"})) == []
