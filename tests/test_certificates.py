"""The nginx host's certificate step, run with certbot stubbed: a host that served `tls: internal` and
now asks for Let's Encrypt gets certbot's certificate where the site reads it. Before, the self-signed
one at that path counted as "a certificate is there": certbot never ran, and the site kept a certificate
nothing renews (the fifteenth review). With `proxy.acme`, certbot asks the stack's CA, trusting its
roots, and a lineage of another CA is replaced; a hostname the CA gives nothing fails the step by name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.render.acme import LETS_ENCRYPT, AcmeClient
from components.render.layout import Paths
from components.render.provision import certificate_script, missing_certificates

HOST = "api.example.com"
CERTBOT = """#!/bin/bash
echo "certbot $* CA=${REQUESTS_CA_BUNDLE:-}" >> "$STUB/calls"
[ -e "$STUB/fail" ] && exit 1
server=https://acme-v02.api.letsencrypt.org/directory
name=api.example.com
while [ $# -gt 0 ]; do
  case $1 in --server) server=$2; shift;; --cert-name) name=$2; shift;; esac
  shift
done
# As certbot does: a lineage named after the domain, unless that live directory exists already.
if ! grep -q "cert-name" "$STUB/calls" || [ ! -e "$LE/renewal/$name.conf" ]; then
  [ -e "$LE/live/$name" ] && name=$name-0001
fi
mkdir -p "$LE/live/$name" "$LE/renewal"
echo "certbot's certificate from $server" > "$LE/live/$name/fullchain.pem"
printf '[renewalparams]\\nserver = %s\\n' "$server" > "$LE/renewal/$name.conf"
"""


def run(tmp_path: Path, tls: str, *, fail: bool = False,
        acme: AcmeClient = LETS_ENCRYPT) -> subprocess.CompletedProcess:
    le = tmp_path / "letsencrypt"
    paths = Paths(certs=str(le / "live"), etc=str(tmp_path / "etc"), acme_root=str(tmp_path / "acme"))
    stub = tmp_path / "stub"
    stub.mkdir(exist_ok=True)
    (stub / "certbot").write_text(CERTBOT)
    (stub / "certbot").chmod(0o755)
    (stub / "fail").unlink(missing_ok=True)
    if fail:
        (stub / "fail").touch()
    script = ("set -euo pipefail\nno_certificate=()\n"
              + certificate_script(HOST, tls=tls, email="ops@example.com", paths=paths, acme=acme) + "\n"
              + missing_certificates(acme, caddy=False))
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env={"PATH": f"{stub}:/usr/bin:/bin", "STUB": str(stub), "LE": str(le)})


def served(tmp_path: Path) -> str:
    return (tmp_path / "letsencrypt/live" / HOST / "fullchain.pem").read_text()


@pytest.mark.skipif(subprocess.run(["which", "openssl"], capture_output=True).returncode != 0,
                    reason="openssl is not installed")
def test_a_host_moved_from_internal_to_lets_encrypt_serves_certbot_s_certificate(tmp_path: Path) -> None:
    assert run(tmp_path, "internal").returncode == 0
    assert "BEGIN CERTIFICATE" in served(tmp_path)

    done = run(tmp_path, "letsencrypt")

    assert done.returncode == 0, done.stderr
    assert served(tmp_path) == "certbot's certificate from https://acme-v02.api.letsencrypt.org/directory\n"
    assert not (tmp_path / "letsencrypt/live" / f"{HOST}-0001").exists()


def test_a_failed_certbot_keeps_the_certificate_the_site_had(tmp_path: Path) -> None:
    assert run(tmp_path, "internal").returncode == 0
    before = served(tmp_path)

    done = run(tmp_path, "letsencrypt", fail=True)

    assert done.returncode == 1
    assert f"no certificate for {HOST} from https://acme-v02.api.letsencrypt.org/directory" in done.stderr
    assert f"point {HOST}'s DNS" in done.stderr
    assert served(tmp_path) == before


@pytest.mark.skipif(subprocess.run(["which", "openssl"], capture_output=True).returncode != 0,
                    reason="openssl is not installed")
def test_a_hostname_the_ca_refuses_on_a_fresh_host_gets_a_stand_in_and_fails_the_step(tmp_path: Path) -> None:
    """nginx must load the site for the hostnames that did get one: the refused one gets a self-signed
    stand-in, which the next run sets aside for certbot again."""
    done = run(tmp_path, "letsencrypt", fail=True)

    assert done.returncode == 1
    assert "BEGIN CERTIFICATE" in served(tmp_path)
    assert "run pulumi up again once its DNS answers" in done.stderr

    assert run(tmp_path, "letsencrypt").returncode == 0
    assert served(tmp_path).startswith("certbot's certificate")


STAGING = AcmeClient.of("letsencrypt-staging", None)
PRIVATE = AcmeClient("https://ca.internal.example:14000/dir",
                     "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n")


def test_certbot_asks_the_stack_s_ca_trusting_its_roots(tmp_path: Path) -> None:
    paths = Paths(etc=str(tmp_path / "etc"))
    assert run(tmp_path, "letsencrypt", acme=PRIVATE).returncode == 0

    call = (tmp_path / "stub" / "calls").read_text()
    assert "--server https://ca.internal.example:14000/dir" in call
    assert f"CA={PRIVATE.ca_file(paths)}" in call
    assert served(tmp_path) == "certbot's certificate from https://ca.internal.example:14000/dir\n"


def test_a_changed_directory_replaces_the_lineage_in_place(tmp_path: Path) -> None:
    """Staging to production: the site must not go on serving staging's untrusted certificate."""
    assert run(tmp_path, "letsencrypt", acme=STAGING).returncode == 0
    assert "staging" in served(tmp_path)

    assert run(tmp_path, "letsencrypt").returncode == 0
    assert served(tmp_path) == "certbot's certificate from https://acme-v02.api.letsencrypt.org/directory\n"
    assert not (tmp_path / "letsencrypt/live" / f"{HOST}-0001").exists()
    calls = (tmp_path / "stub" / "calls").read_text().splitlines()
    assert "--cert-name api.example.com --force-renewal" in calls[-1]

    assert run(tmp_path, "letsencrypt").returncode == 0
    assert len((tmp_path / "stub" / "calls").read_text().splitlines()) == 2


def test_a_certificate_certbot_manages_is_left_to_its_renewal(tmp_path: Path) -> None:
    assert run(tmp_path, "letsencrypt").returncode == 0
    assert run(tmp_path, "letsencrypt").returncode == 0
    assert (tmp_path / "stub" / "calls").read_text().count("certbot certonly") == 1
