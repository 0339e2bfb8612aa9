"""Certificates from a real ACME CA, on a fresh host, for both proxies.

Pebble, Let's Encrypt's test CA, runs on this machine's end of the link (scripts/local_acme.py). Its
directory is served over HTTPS with a certificate of a root of ours, which the stack names in
`proxy.acme.caRoot`: the private-CA case. Its DNS answers only the hostnames a test points at the host,
and its validation authority fetches each challenge from the host's port 80, as Let's Encrypt does.

For nginx (certbot) and then Caddy, each on a freshly booted host with a stack of its own (one proxy,
static sites, no services):
- the first `pulumi up` gets a certificate for each hostname (nginx answers the challenge before it has
  any certificate), and the chain served verifies with `openssl verify` against Pebble's root, which
  it can only with the intermediate served too;
- a hostname whose DNS does not point at the host yet fails `up`, naming it and what to do, while the
  other hostname goes on being served; once DNS answers, it gets its certificate;
- a renewal under load fails no request.

This module boots its own hosts, so it runs last.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import local_acme  # scripts/: on the path once conftest has imported local
import pytest
import yaml
from helpers.workspace import Workspace, make_tmp, toolchain_bin

from load import Load
from local import FIGURES, HOST_KEY_PATH, LocalStack, local_host, local_stack

STATIC = "/srv/acme-static"
RATE = 20


def stack_config(kind: str, hostnames: list[str]) -> dict:
    """The stack: the local host, its proxy getting certificates from Pebble for static sites."""
    return {"config": {"stackyard:systems": {"local": {
        "description": f"static sites behind {kind} with certificates from Pebble",
        "hosts": {"box": {
            "provider": "existing", "address": local_host.GUEST_IP, "user": "root",
            "access": {"privateKey": {"secret": "localSshKey"}, "sshAllowFrom": ["10.213.0.0/30"]},
            "proxy": {"kind": kind, "email": "ops@stackyard.test",
                      "acme": {"directory": local_acme.DIRECTORY, "caRoot": local_acme.directory_root().read_text()},
                      "static": {hostname: STATIC for hostname in hostnames}},
            "ufw": True,
        }},
        "services": {},
    }}}}


def served_chain(hostname: str) -> list[str]:
    """The certificates the host serves for ``hostname`` (SNI), leaf first."""
    done = subprocess.run(["openssl", "s_client", "-connect", f"{local_host.GUEST_IP}:443", "-servername", hostname,
                           "-showcerts"], input="", capture_output=True, text=True, timeout=30)
    return re.findall(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n", done.stdout, re.S)


def serial(pem: str) -> str:
    return subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem, capture_output=True, text=True,
                          check=True).stdout.strip()


def verify(chain: list[str], root: str, hostname: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """`openssl verify` of the served leaf against Pebble's root, with the served intermediates only."""
    (tmp / "root.pem").write_text(root)
    (tmp / "leaf.pem").write_text(chain[0])
    (tmp / "untrusted.pem").write_text("".join(chain[1:]))
    return subprocess.run(["openssl", "verify", "-CAfile", str(tmp / "root.pem"), "-untrusted",
                           str(tmp / "untrusted.pem"), "-verify_hostname", hostname, str(tmp / "leaf.pem")],
                          capture_output=True, text=True)


@dataclass
class AcmeStack(LocalStack):
    """A stack of its own on a fresh host, HTTPS checked against Pebble's root."""

    kind: str = "nginx"
    root: Path | None = None

    def fetch(self, hostname: str, path: str = "/", timeout: float = 5) -> tuple[int, str]:
        return local_stack.fetch(hostname, path, timeout, cafile=self.root)


@pytest.fixture(scope="module")
def acme_hosts(host) -> Iterator[None]:
    """Each test boots a fresh host and starts Pebble; both stop at the end of the module."""
    try:
        local_acme.build()
    except SystemExit as err:  # no Go to build Pebble with: say so
        pytest.skip(f"e2e ACME: {err}")
    try:
        yield
    finally:
        local_acme.down()


def proxy_log(stack: AcmeStack) -> str:
    """What the proxy's ACME client said, for a failure's message."""
    command = ("journalctl -u caddy --no-pager -n 80" if stack.kind == "caddy" else
               "tail -n 80 /var/log/letsencrypt/letsencrypt.log")
    return stack.ssh(command, check=False).stdout


def first_issuance(kind: str, tmp: Path, *, validity: int = 7776000) -> AcmeStack:
    """A freshly booted host, Pebble, and a throwaway project whose stack serves one hostname through
    ``kind``, applied: its certificate verified with `openssl verify` against Pebble's root."""
    hostname = f"{kind}.acme.stackyard.test"
    local_host.down()  # Pebble too
    local_host.up(fresh=True)
    local_acme.up(validity)
    local_acme.dns(hostname)
    project = make_tmp(f"stackyard-e2e-acme-{kind}-")
    ws = Workspace(project, toolchain_bin(), passphrase=local_stack.LOCAL_PASSPHRASE)
    (project / "stack.yaml").write_text(yaml.safe_dump(stack_config(kind, [hostname]), sort_keys=False))
    ws.init("local", copy_from=project / "stack.yaml", secrets={"localSshKey": local_host.PATHS.key.read_text()})
    ws.run("config", "set", "--path", "--stack", "local", HOST_KEY_PATH, local_host.host_key())
    stack = AcmeStack(ws, kind=kind, root=project / "pebble-root.pem")
    stack.root.write_text(local_acme.issuing_root())
    stack.ssh(f"install -d -m 0755 {STATIC} && echo 'served over ACME TLS' > {STATIC}/index.html")

    first = stack.up(check=False)
    assert first.returncode == 0, first.output[-3000:] + "\n" + proxy_log(stack)
    FIGURES.append(f"ACME ({local_host.DISTRO}, {kind}): first pulumi up on a fresh host, certificate included: "
                   f"{first.seconds:.1f} s")
    chain = served_chain(hostname)
    assert len(chain) >= 2, f"{kind} served {len(chain)} certificate(s) for {hostname}: no intermediate"
    checked = verify(chain, stack.root.read_text(), hostname, tmp)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert stack.fetch(hostname) == (200, "served over ACME TLS\n")
    return stack


def late_dns(stack: AcmeStack, tmp: Path) -> None:
    """A second hostname whose DNS does not point at the host yet: `up` fails naming it and what to do,
    the first goes on being served; once DNS answers, it gets its certificate."""
    ready, late = f"{stack.kind}.acme.stackyard.test", f"late-{stack.kind}.acme.stackyard.test"
    stack.edit_system(lambda system: system["hosts"]["box"]["proxy"]["static"].update({late: STATIC}))
    failed = stack.up(check=False)
    assert failed.returncode != 0
    assert f"no certificate for {late} from {local_acme.DIRECTORY} yet" in failed.output
    assert f"point {late}'s DNS (A/AAAA) at this host" in failed.output
    assert stack.fetch(ready)[0] == 200, f"{ready} stopped being served while {late} had no certificate"

    local_acme.dns(late)
    started = time.monotonic()
    if stack.kind == "caddy":
        # As the message says: Caddy asks again by itself, with no reload and no `up`.
        deadline = time.monotonic() + 300
        while len(served_chain(late)) < 2:
            assert time.monotonic() < deadline, f"Caddy did not get {late}'s certificate by itself"
            time.sleep(2)
        FIGURES.append(f"ACME ({local_host.DISTRO}, caddy): {late} served {time.monotonic() - started:.0f} s after "
                       "its DNS answered, by Caddy alone")
    done = stack.up()
    if stack.kind == "nginx":
        FIGURES.append(f"ACME ({local_host.DISTRO}, nginx): pulumi up once DNS answered: {done.seconds:.1f} s")
    checked = verify(served_chain(late), stack.root.read_text(), late, tmp)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert stack.fetch(late) == (200, "served over ACME TLS\n")


def renewal_under_load(stack: AcmeStack, renew: Callable[[], object] | None = None) -> None:
    """The proxy's certificate renewed under load fails no request. ``renew``, when given, makes the
    renewal happen under the load (certbot's, with its reload of nginx); without it, the proxy renews by
    itself (Caddy)."""
    hostname = f"{stack.kind}.acme.stackyard.test"
    before = serial(served_chain(hostname)[0])
    with Load(hostname, RATE, path="/", fetch=stack.fetch) as load:
        time.sleep(2)
        if renew is not None:
            renew()
        deadline = time.monotonic() + 180
        while serial(served_chain(hostname)[0]) == before:
            assert time.monotonic() < deadline, f"{hostname} still serves its first certificate"
            time.sleep(1)
        time.sleep(3)
    tally = load.tally
    FIGURES.append(f"ACME ({local_host.DISTRO}, {stack.kind}): renewal under {RATE} requests/s: {tally.summary()}")
    assert tally.failed == 0, tally.summary()
    assert tally.ok > RATE


def test_nginx_gets_a_certificate_waits_for_dns_and_renews_under_load(acme_hosts, tmp_path: Path) -> None:
    stack = first_issuance("nginx", tmp_path)
    late_dns(stack, tmp_path)
    # The renewals certbot's timer starts must trust the CA's roots too: one forced, in the unit's
    # environment (stackyard's drop-in), as the timer would run it.
    environment = stack.ssh("systemctl show certbot.service -p Environment --value").stdout.strip()
    assert environment.startswith("REQUESTS_CA_BUNDLE=")
    renewal_under_load(stack, lambda: stack.ssh(
        f"env {environment} certbot renew --force-renewal --no-random-sleep-on-renew "
        "--cert-name nginx.acme.stackyard.test --non-interactive"))


def test_caddy_gets_a_certificate_renews_under_load_and_waits_for_dns(acme_hosts, tmp_path: Path) -> None:
    # Certificates for two minutes: Caddy renews one in its last third, which it looks for every
    # renew_interval (ten minutes unless set). The test sets it through the admin API before the load
    # starts: that is a config reload, and Caddy 2.6.2's reloads can fail a TLS handshake in flight (one
    # reset in 1729 requests at CI on 2026-12-07; benchmarks/proxy_reload.py measures how often), which
    # is not the renewal this test is about. The renewal itself then comes about 70 s later, under the
    # load. Renewal first, while the first certificate is young. Not shorter: the next `up` loads
    # stackyard's Caddyfile, which puts renew_interval back to ten minutes, and one-minute certificates
    # then expired before the late hostname's test was over (CI at 808dbb2).
    stack = first_issuance("caddy", tmp_path, validity=120)
    stack.ssh("curl -sSf --unix-socket /run/caddy-admin/admin.sock -H 'Host: ' -H 'Content-Type: application/json' "
              "-d '\"5s\"' http://localhost/config/apps/tls/automation/renew_interval")
    renewal_under_load(stack)
    late_dns(stack, tmp_path)
