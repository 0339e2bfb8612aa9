"""The nginx host's certificate step, run with certbot stubbed: a host that served `tls: internal` and
now asks for Let's Encrypt gets certbot's certificate where the site reads it. Before, the self-signed
one at that path counted as "a certificate is there": certbot never ran, and the site kept a certificate
nothing renews (the fifteenth review)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.render.layout import Paths
from components.render.provision import certificate_script

HOST = "api.example.com"
CERTBOT = """#!/bin/bash
echo "certbot $*" >> "$STUB/calls"
[ -e "$STUB/fail" ] && exit 1
# As certbot does: a lineage named after the domain, unless that live directory exists already.
name=api.example.com; [ -e "$LE/live/$name" ] && name=$name-0001
mkdir -p "$LE/live/$name" "$LE/renewal"
echo "certbot's certificate" > "$LE/live/$name/fullchain.pem"
echo "[renewalparams]" > "$LE/renewal/$name.conf"
"""


def run(tmp_path: Path, tls: str, *, fail: bool = False) -> subprocess.CompletedProcess:
    le = tmp_path / "letsencrypt"
    paths = Paths(certs=str(le / "live"), etc=str(tmp_path / "etc"), acme_root=str(tmp_path / "acme"))
    stub = tmp_path / "stub"
    stub.mkdir(exist_ok=True)
    (stub / "certbot").write_text(CERTBOT)
    (stub / "certbot").chmod(0o755)
    (stub / "fail").unlink(missing_ok=True)
    if fail:
        (stub / "fail").touch()
    script = "set -euo pipefail\n" + certificate_script(HOST, tls=tls, email="ops@example.com", paths=paths) + "\n"
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
    assert served(tmp_path) == "certbot's certificate\n"
    assert not (tmp_path / "letsencrypt/live" / f"{HOST}-0001").exists()


def test_a_failed_certbot_keeps_the_certificate_the_site_had(tmp_path: Path) -> None:
    assert run(tmp_path, "internal").returncode == 0
    before = served(tmp_path)

    done = run(tmp_path, "letsencrypt", fail=True)

    assert done.returncode == 1
    assert "certbot got no certificate" in done.stderr
    assert served(tmp_path) == before


def test_a_certificate_certbot_manages_is_left_to_its_renewal(tmp_path: Path) -> None:
    assert run(tmp_path, "letsencrypt").returncode == 0
    assert run(tmp_path, "letsencrypt").returncode == 0
    assert (tmp_path / "stub" / "calls").read_text().count("certbot certonly") == 1
