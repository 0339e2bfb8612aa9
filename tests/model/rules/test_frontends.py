"""components/model/rules/frontends.py and github.py, called directly: what a frontend and an Actions
secret may say, and names the cloud compares without case."""

from __future__ import annotations

import pytest
from helpers.rules import paths, system, with_host

from components.model.rules.frontends import check_frontend_domains, check_frontends
from components.model.rules.github import check_github

ZONE = "dns:\n  zones: {example.org: {zoneId: 0123456789abcdef0123456789abcdef}}\n"
PAGES = ("frontends:\n  web:\n    kind: cloudflare-pages\n    accountId: 1821bc96b1a7e2f3cbcf26060bd99ed7\n"
         "    project: shop\n    repository: shop/web\n")
VERCEL = "frontends:\n  web:\n    kind: vercel\n    project: shop\n    repository: shop/web\n"


def frontends(text: str) -> list[str]:
    findings, read = system(text)
    check_frontends(findings, "systems.shop", read)
    return paths(findings)


def test_a_pages_frontend_with_its_domain_in_its_zone_passes():
    assert frontends(ZONE + PAGES + "    zone: example.org\n    domains: [www.example.org]\n") == []


def test_a_domain_outside_the_frontends_zone_is_refused():
    found = frontends(ZONE + PAGES + "    zone: example.org\n    domains: [www.example.net]\n")
    assert found == ["systems.shop.frontends.web.domains[0]"]


def test_pages_has_no_install_command():
    assert frontends(PAGES + "    build: {command: npm run build, installCommand: npm ci}\n") == [
        "systems.shop.frontends.web.build.installCommand"]


def test_vercel_keeps_no_secret_for_development():
    assert frontends(VERCEL + "    env: {development: {TOKEN: {secret: devToken}}}\n") == [
        "systems.shop.frontends.web.env.development.TOKEN"]


def test_a_dns_record_of_a_frontends_domain_is_refused():
    findings, read = system(with_host(ZONE + "  records:\n    - {name: www, zone: example.org, type: A, host: web}\n"
                                      + PAGES + "    zone: example.org\n    domains: [www.example.org]\n"))
    check_frontend_domains(findings, {"shop": read})
    assert paths(findings) == ["systems.shop.dns.records[0]"]


GITHUB = "github:\n  owner: shop\n  repositories:\n"


@pytest.mark.parametrize("repos, path", [
    ("    api: {secrets: {GITHUB_TOKEN: x}}\n", "systems.shop.github.repositories.api.secrets.GITHUB_TOKEN"),
    ("    api: {secrets: {Token: x, TOKEN: y}}\n", "systems.shop.github.repositories.api.secrets.Token"),
    ("    api: {secrets: {A: x}}\n    API: {secrets: {A: x}}\n", "systems.shop.github.repositories.api"),
])
def test_github_reserves_its_names_and_ignores_case(repos, path):
    findings, read = system(GITHUB + repos)
    check_github(findings, "systems.shop", read)
    assert path in paths(findings)
