"""components/model/rules/stack.py, called directly: what two systems may not share, resource names
that would run together, and former names."""

from __future__ import annotations

import pytest
from helpers.rules import HOST, paths, settings

from components.model.rules.stack import check_global, check_renames, check_resource_names


def two_systems(one: str, two: str) -> str:
    block = lambda name, text: f"  {name}:\n" + "".join(f"    {line}\n" for line in text.strip("\n").splitlines())  # noqa: E731
    return "systems:\n" + block("one", one) + block("two", two)


def hosts(*names: str, host: str = HOST) -> str:
    indented = "\n".join("    " + line for line in host.strip("\n").splitlines())
    return "hosts:\n" + "".join(f"  {name}:\n{indented}\n" for name in names)


@pytest.mark.parametrize("address", ["192.0.2.10", "2001:DB8::10"])
def test_one_address_in_two_systems_is_refused_at_the_second(address):
    host = HOST.replace("192.0.2.10", address)
    other = HOST.replace("192.0.2.10", address.lower() if ":" in address else address)
    findings, read = settings(two_systems(hosts("web", host=host), hosts("box", host=other)))
    check_global(findings, read.systems)
    assert "systems.two.hosts.box.address" in paths(findings)


@pytest.mark.parametrize("one, two, path", [
    ("a", "a-b", "systems.a-b.hosts.box"),  # a's host b-box and a-b's host box: both a-b-box
])
def test_resource_names_that_run_together_are_refused(one, two, path):
    text = (f"systems:\n  {one}:\n" + "".join(f"    {line}\n" for line in hosts("b-box").splitlines())
            + f"  {two}:\n" + "".join(f"    {line}\n" for line in hosts("box").splitlines()))
    findings, read = settings(text)
    check_resource_names(findings, read.systems)
    assert paths(findings) == [path]


def test_the_same_github_secret_under_two_spellings_in_two_systems_is_refused():
    findings, read = settings(two_systems("github: {owner: Shop, repositories: {api: {secrets: {TOKEN: x}}}}",
                                          "github: {owner: shop, repositories: {API: {secrets: {token: y}}}}"))
    check_global(findings, read.systems)
    assert paths(findings) == ["systems.two.github.repositories.API.secrets.token"]


@pytest.mark.parametrize("formerly, path", [
    ({"web": ["box"]}, "systems.shop.hosts.web.formerly[0]"),       # a former name still in use
    ({"web": ["old"], "box": ["old"]}, "systems.shop.hosts.box.formerly[0]"),  # one former name, two heirs
])
def test_a_former_name_is_one_entrys_and_not_in_use(formerly, path):
    host = lambda name: HOST + (f"formerly: {formerly[name]}\n" if name in formerly else "")  # noqa: E731
    text = "systems:\n  shop:\n    hosts:\n" + "".join(
        f"      {name}:\n" + "".join(f"        {line}\n" for line in host(name).strip().splitlines())
        for name in ("web", "box"))
    findings, read = settings(text.replace("192.0.2.10", "192.0.2.11", 1))
    check_renames(findings, "systems.shop.hosts", read.systems["shop"].hosts)
    assert paths(findings) == [path]


def test_one_server_under_two_names_is_refused_by_its_host_key() -> None:
    """Round 37: one server as two hosts (an address and a hostname), each in its own system: each host's
    proxy step, database passwords and backups undid the other's."""
    other = HOST.replace("192.0.2.10", "box.example.org").replace(" ops", "") + ""
    findings, read = settings(two_systems(hosts("web"), hosts("box", host=other)))
    check_global(findings, read.systems)
    assert paths(findings) == ["systems.two.hosts.box.access.hostKey"]
