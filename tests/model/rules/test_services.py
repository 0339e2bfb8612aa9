"""components/model/rules/services.py, called directly: names, ports a service holds, what it replaces."""

from __future__ import annotations

import random

import pytest
from helpers.rules import paths, system, with_host

from components.model.host_layout import held_ports
from components.model.rules.services import (
    MAX_SERVICE_NAME,
    RESERVED_SERVICE_NAMES,
    SYSTEM_UNITS,
    check_replaces,
    check_services,
    protected_unit,
)

SOURCE = 'source: {repo: "https://git.example.org/a.git"}'


def services(*entries: str) -> list[str]:
    findings, read = system(with_host("services:\n" + "".join(f"  {e}\n" for e in entries)))
    check_services(findings, "systems.shop", read)
    return paths(findings)


def app(name: str, port: int, instances: int = 1) -> str:
    return f"{name}: {{host: web, runtime: systemd, {SOURCE}, command: run, port: {port}, instances: {instances}}}"


def test_two_services_apart_pass():
    assert services(app("a", 8000), app("b", 8100)) == []


@pytest.mark.parametrize("seed", range(20))
def test_a_port_another_service_holds_is_refused_at_both_ends(seed):
    """Any port the first service holds (its own, or a slot's instance port), taken as the second's."""
    rng = random.Random(seed)
    port, instances = rng.randrange(7000, 9000), rng.randrange(1, 4)
    other = rng.choice(held_ports(port, instances))
    assert sorted(services(app("a", port, instances), app("b", other))) == ["systems.shop.services.a.port",
                                                                            "systems.shop.services.b.port"]


@pytest.mark.parametrize("port", [22, 80, 443, 3306, 5432, 6379])
def test_a_port_the_host_keeps_is_refused(port):
    findings, read = system(with_host("services:\n  " + app("a", port) + "\n"))
    check_services(findings, "systems.shop", read)
    assert any(path == "systems.shop.services.a.port" and f"port {port} (of {port}) is" in message
               for path, message in findings.problems)


@pytest.mark.parametrize("name", [*sorted(RESERVED_SERVICE_NAMES), "x" * (MAX_SERVICE_NAME + 1)])
def test_a_name_stackyard_keeps_or_too_long_for_its_user_is_refused(name):
    assert "systems.shop.services." + name in services(app(name, 8000))


def test_a_service_on_an_unknown_host_or_runtime_is_named_at_the_key():
    found = services(f"a: {{host: db, runtime: systemd, {SOURCE}, command: run}}",
                     f"b: {{host: web, runtime: upstart, {SOURCE}, command: run}}")
    assert found == ["systems.shop.services.a.host", "systems.shop.services.b.runtime"]


@pytest.mark.parametrize("unit", [*sorted(SYSTEM_UNITS), "systemd-journald", "stackyard-api@blue", "multi-user.target"])
def test_replacing_a_unit_the_system_needs_is_refused(unit):
    findings, read = system(with_host(f"services:\n  a: {{host: web, runtime: systemd, {SOURCE}, command: run, "
                                      f"port: 8000, replaces: {{systemd: ['{unit}']}}}}\n"))
    check_replaces(findings, "systems.shop.services.a", read.services["a"])
    assert paths(findings) == ["systems.shop.services.a.replaces.systemd[0]"]
    assert protected_unit(unit) is not None


@pytest.mark.parametrize("name", ["all", "0", "17"])
def test_replacing_pm2_all_or_an_id_is_refused(name):
    findings, read = system(with_host(f"services:\n  a: {{host: web, runtime: pm2, {SOURCE}, command: run, "
                                      f"port: 8000, replaces: {{pm2: ['{name}']}}}}\n"))
    check_replaces(findings, "systems.shop.services.a", read.services["a"])
    assert paths(findings) == ["systems.shop.services.a.replaces.pm2[0]"]


def test_the_old_port_must_not_be_one_the_service_holds():
    findings, read = system(with_host(f"services:\n  a: {{host: web, runtime: systemd, {SOURCE}, command: run, "
                                      "port: 8000, replaces: {listen: 9000}}\n"))
    check_replaces(findings, "systems.shop.services.a", read.services["a"])
    assert paths(findings) == ["systems.shop.services.a.replaces.listen"]
