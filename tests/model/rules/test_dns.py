"""components/model/rules/dns.py, called directly: zones, records and the hosts a hostname points at."""

from __future__ import annotations

import pytest
from helpers.rules import HOST, paths, settings, system, with_host

from components.model.rules.dns import check_dns, check_hostname_hosts, check_hostnames

ZONE = "dns:\n  zones: {example.org: {zoneId: 0123456789abcdef0123456789abcdef}}\n  records:\n"


def dns(*records: str) -> tuple:
    findings, read = system(with_host(ZONE + "".join(f"    - {r}\n" for r in records)))
    check_dns(findings, "systems.shop", read)
    return findings


def test_a_record_pointing_at_a_host_of_the_system_passes():
    assert paths(dns("{name: api, zone: example.org, type: A, host: web}")) == []


def test_an_unknown_zone_is_named_at_the_record():
    findings = dns("{name: api, zone: example.net, type: A, content: 192.0.2.1}")
    assert "systems.shop.dns.records[0].zone" in paths(findings)
    assert "example.org" in dict(findings.problems)["systems.shop.dns.records[0].zone"]


@pytest.mark.parametrize("second", ["{name: api, zone: example.org, type: TXT, content: x}",
                                    "{name: api, zone: example.org, type: A, content: 192.0.2.2}"])
def test_a_cname_shares_its_name_with_nothing_and_an_address_is_not_doubled(second):
    first = ("{name: api, zone: example.org, type: CNAME, content: elsewhere.example.net}" if "TXT" in second
             else "{name: api, zone: example.org, type: A, content: 192.0.2.1}")
    assert paths(dns(first, second)) == ["systems.shop.dns.records[1]"]


@pytest.mark.parametrize("record, path", [
    ("{name: api, zone: example.org, type: A, host: web, content: 192.0.2.1}", "systems.shop.dns.records[0]"),
    ("{name: api, zone: example.org, type: A}", "systems.shop.dns.records[0].content"),
    ("{name: api, zone: example.org, type: TXT, host: web}", "systems.shop.dns.records[0].host"),
    ("{name: api, zone: example.org, type: A, host: db}", "systems.shop.dns.records[0].host"),
])
def test_a_record_gives_content_or_a_host_of_its_system(record, path):
    assert path in paths(dns(record))


def test_one_hostname_on_hosts_of_two_systems_is_refused_at_both_ends():
    host = "\n".join("        " + line for line in HOST.strip().splitlines())
    text = "".join(f"""  {name}:
    hosts:
      web:
{host}
    services:
      app: {{host: web, runtime: systemd, source: {{repo: "https://git.example.org/a.git"}}, command: run,
             port: 8000, hostnames: [app.example.org]}}
""" for name in ("one", "two"))
    findings, read = settings("systems:\n" + text)
    check_hostname_hosts(findings, read.systems)
    assert paths(findings) == ["systems.one.services.app.hostnames[0]", "systems.two.services.app.hostnames[0]"]
    assert "also served by systems.two.services.app.hostnames[0]" in findings.problems[0][1]


def test_a_hostname_served_twice_on_one_host_is_refused_at_the_second():
    findings, read = system(with_host("""
services:
  a: {host: web, runtime: systemd, source: {repo: "https://git.example.org/a.git"}, command: run, port: 8000,
      hostnames: [app.example.org]}
  b: {host: web, runtime: systemd, source: {repo: "https://git.example.org/b.git"}, command: run, port: 8100,
      hostnames: [app.example.org]}
"""))
    check_hostnames(findings, "systems.shop", read)
    assert paths(findings) == ["systems.shop.services.b.hostnames[0]"]
