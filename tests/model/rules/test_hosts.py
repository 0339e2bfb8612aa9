"""components/model/rules/hosts.py, called directly: ports a host opens, keys a created host needs,
accessories, and names that would share resources."""

from __future__ import annotations

import dataclasses

import pytest
from helpers.rules import HOST, paths, system, with_host

from components.model.rules.hosts import check_accessories, check_docker, check_hosts

CREATED = """
provider: hetzner
serverType: cx22
location: fsn1
image: ubuntu-24.04
access: {privateKey: {secret: deployKey}}
proxy: {kind: caddy, email: ops@example.org}
"""


def hosts(text: str, extra: str = "", keys: str = "") -> list[str]:
    findings, read = system(with_host(extra, text))
    if keys:
        findings.settings = dataclasses.replace(findings.settings, ssh_keys=(keys,))
    check_hosts(findings, "systems.shop", read)
    return paths(findings)


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKWLtowiqYBA794YJ9Hjrtc0j5gRJ0VK3CThVGxCZvSc ops"


def test_a_created_host_with_a_key_and_its_proxy_ports_passes():
    assert hosts(CREATED + "openPorts: [80, 443]\n", keys=KEY) == []


def test_a_created_host_needs_an_ssh_key():
    assert hosts(CREATED + "openPorts: [80, 443]\n") == ["systems.shop.hosts.web.sshKeys"]


@pytest.mark.parametrize("ports, missing", [("[]", "80 and 443"), ("[80]", "443"), ("[443, 8443]", "80")])
def test_a_created_host_with_a_proxy_opens_80_and_443(ports, missing):
    findings, read = system(with_host("", CREATED + f"openPorts: {ports}\nsshKeys: ['{KEY}']\n"))
    check_hosts(findings, "systems.shop", read)
    assert findings.problems == [("systems.shop.hosts.web.openPorts", findings.problems[0][1])]
    assert f"add {missing}, or leave openPorts out" in findings.problems[0][1]


def test_a_created_host_with_a_proxy_may_leave_open_ports_out():
    assert hosts(CREATED, keys=KEY) == []


@pytest.mark.parametrize("ssh_port", [22, 2222])
def test_the_ssh_port_and_a_port_twice_are_refused_in_open_ports(ssh_port):
    host = HOST.replace("access: {", f"access: {{sshPort: {ssh_port}, ") + f"openPorts: [8080, {ssh_port}, 8080]\n"
    assert hosts(host) == ["systems.shop.hosts.web.openPorts[1]", "systems.shop.hosts.web.openPorts[2]"]


@pytest.mark.parametrize("name", ["web-setup", "web-setup-nginx"])
def test_a_host_named_after_anothers_setup_resources_is_refused(name):
    findings, read = system(f"hosts:\n  web:{HOST.replace(chr(10), chr(10) + '    ')}\n  {name}:"
                            f"{HOST.replace(chr(10), chr(10) + '    ')}\n")
    check_hosts(findings, "systems.shop", read)
    assert paths(findings) == [f"systems.shop.hosts.{name}"]


@pytest.mark.parametrize("accessory", ["mysql", "redis"])
def test_sshd_on_an_accessorys_port_is_refused(accessory):
    port = {"mysql": 3306, "redis": 6379}[accessory]
    host = HOST.replace("access: {", f"access: {{sshPort: {port}, ") + f"accessories: {{{accessory}: {{}}}}\n"
    findings, read = system(with_host("", host))
    check_accessories(findings, "systems.shop.hosts.web", read, read.hosts["web"])
    assert paths(findings) == ["systems.shop.hosts.web.access.sshPort"]


def test_an_existing_database_users_password_is_required():
    host = HOST + "accessories: {mysql: {existing: true, user: shop}}\n"
    findings, read = system(with_host("", host))
    check_accessories(findings, "systems.shop.hosts.web", read, read.hosts["web"])
    assert paths(findings) == ["systems.shop.hosts.web.accessories.mysql.password"]


@pytest.mark.parametrize("subnet, ok", [("172.30.255.0/24", True), ("10.8.0.0/16", True), ("10.0.0.0/8", False),
                                        ("172.30.255.0/29", False), ("127.0.0.0/24", False)])
def test_dockers_subnet_is_an_ipv4_network_from_16_to_28(subnet, ok):
    findings, read = system(with_host("", HOST + f"docker: {{subnet: '{subnet}'}}\n"))
    check_docker(findings, "systems.shop.hosts.web", "web", read.hosts["web"], read)
    assert paths(findings) == ([] if ok else ["systems.shop.hosts.web.docker.subnet"])
