"""The host as the field's own auditors measure it.

- sslyze against Mozilla's "intermediate" profile, for each hostname nginx serves (its certificate is
  the host's own, tls: internal, so it is the CA sslyze trusts here);
- ssh-audit against the host's sshd: no failure (warnings are reported);
- gixy-next over the host's whole nginx configuration (`nginx -T`): nothing above LOW;
- `systemd-analyze security` of every unit stackyard writes: an exposure of at most 4.

Each figure goes into the run's report. (Caddy's TLS is audited in test_07_proxy.py, where a Caddy
serves the rendered Caddyfile.)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from local import FIGURES, LocalStack, local_host, local_stack

HOSTNAMES = ("fastapi.stackyard.test", "flask.stackyard.test", "static.stackyard.test")


def sslyze(hostname: str, port: int, ca: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sslyze", "--mozilla_config=intermediate", f"--certinfo_ca_file={ca}",
                           f"{hostname}:{port}{{{local_host.GUEST_IP}}}"], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("hostname", HOSTNAMES)
def test_nginx_meets_mozilla_intermediate(stack: LocalStack, hostname: str) -> None:
    result = sslyze(hostname, 443, str(local_stack.certificate(hostname)))
    # The local stack's certificates are tls: internal, self-signed: no public path validates them (a
    # certificate from an ACME server would). Every other check of the profile must pass.
    failed = re.findall(r"^\s+\* (\w+): (.*)$", result.stdout.split("COMPLIANCE AGAINST TLS CONFIGURATION")[-1], re.M)
    FIGURES.append(f"sslyze {hostname} (nginx) against Mozilla intermediate: "
                   f"{[name for name, _ in failed] or 'compliant'}")
    assert "COMPLIANCE AGAINST TLS CONFIGURATION" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]
    assert [name for name, _ in failed if name != "certificate_path_validation"] == [], failed


def test_sshd_has_no_failure_in_ssh_audit(stack: LocalStack) -> None:
    result = subprocess.run([sys.executable, "-m", "ssh_audit", "-j", local_host.GUEST_IP],
                            capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)
    fails = {kind: [a["name"] for a in report.get(kind, []) if a.get("notes", {}).get("fail")]
             for kind in ("kex", "key", "enc", "mac")}
    warns = sum(len(a.get("notes", {}).get("warn", [])) for kind in ("kex", "key", "enc", "mac")
                for a in report.get(kind, []))
    FIGURES.append(f"ssh-audit of the host's sshd: {sum(map(len, fails.values()))} failures, {warns} warnings "
                   f"(exit {result.returncode})")
    assert result.returncode != 3 and not any(fails.values()), fails


def test_gixy_finds_nothing_above_low_in_the_whole_nginx_configuration(stack: LocalStack) -> None:
    dump = stack.ssh("nginx -T 2>/dev/null").stdout
    result = subprocess.run([sys.executable, "-m", "gixy", "-f", "json", "-"], input=dump, capture_output=True,
                            text=True, timeout=120)
    issues = json.loads(result.stdout or "[]")
    by_level: dict[str, list[str]] = {}
    for issue in issues:
        by_level.setdefault(issue["severity"], []).append(f"{issue['plugin']} ({issue.get('file')})")
    FIGURES.append(f"gixy-next over nginx -T: {({k: len(v) for k, v in by_level.items()} or 'no issue')}")
    assert not by_level.get("MEDIUM") and not by_level.get("HIGH"), by_level


def test_every_unit_stackyard_writes_is_exposed_at_most_4(stack: LocalStack) -> None:
    color = stack.ssh("cut -d' ' -f1 /srv/fastapi-sample/active").stdout.strip()
    units = [f"stackyard-fastapi-sample-{color}@{9000 if color == 'blue' else 10000}.service",
             stack.serving_pm2("flask-sample"),
             "stackyard-fastapi-sample-watchdog.service", "stackyard-flask-sample-watchdog.service"]
    scores = {}
    for unit in units:
        out = stack.ssh(f"systemd-analyze security --no-pager {unit} | tail -n 1").stdout
        found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
        assert found, out
        scores[unit] = float(found.group(1))
    FIGURES.append("systemd-analyze security: " + ", ".join(f"{u} {s}" for u, s in scores.items()))
    assert all(score <= 4.0 for score in scores.values()), scores
