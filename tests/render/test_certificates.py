"""The nginx host's certificate step, run with certbot stubbed: a host that served `tls: internal` and
now asks for Let's Encrypt gets certbot's certificate where the site reads it. Before, the self-signed
one at that path counted as "a certificate is there": certbot never ran, and the site kept a certificate
nothing renews (the fifteenth review). With `proxy.acme`, certbot asks the stack's CA, trusting its
roots, and a lineage of another CA is replaced; a hostname the CA gives nothing fails the step by name."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from components.model.host_layout import Paths
from components.render.acme import LETS_ENCRYPT, AcmeClient, bundle_file
from components.render.deploy import service_header
from components.render.layout import ServicePlan
from components.render.provision import (
    certificate_script,
    certificates_locked,
    certificates_restorer,
    missing_certificates,
)
from components.render.scripts import shell

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


def scratch_paths(tmp_path: Path) -> Paths:
    return Paths(certs=str(tmp_path / "letsencrypt/live"), etc=str(tmp_path / "etc"),
                 acme_root=str(tmp_path / "acme"), var=str(tmp_path / "var"))


NGINX = """#!/bin/bash
# `nginx -t` as it matters here: every certificate the site names is there (after $NGINX_T_TAKES s).
if [ "$1" = -t ]; then
  sleep "${NGINX_T_TAKES:-0}"
  for host in $SITE_HOSTS; do
    [ -f "$CERTS/$host/fullchain.pem" ] || { echo "nginx -t: no certificate for $host" >&2; exit 1; }
  done
fi
"""


def deploy_reload(tmp_path: Path) -> str:
    """A deploy's reload_proxy (proxy-nginx.sh) as its script runs it, with nginx and systemctl stubbed."""
    paths = scratch_paths(tmp_path)
    stub = tmp_path / "deploy-bin"
    stub.mkdir(exist_ok=True)
    (stub / "nginx").write_text(NGINX)
    (stub / "systemctl").write_text("#!/bin/bash\n")
    for name in ("nginx", "systemctl"):
        (stub / name).chmod(0o755)
    plan = ServicePlan(name="api", runtime="systemd", repo="file:///r", ref="main", command="true", port=8000,
                       paths=paths)
    script = (f"#!/bin/bash\nset -euo pipefail\nexport PATH={stub}:/usr/bin:/bin CERTS={paths.certs}\n"
              + service_header(plan, "nginx") + shell("common.sh") + shell("certificates-aside.sh")
              + shell("proxy-nginx.sh") + "reload_proxy\n")
    (tmp_path / "reload.sh").write_text(script)
    return str(tmp_path / "reload.sh")


def restore_at_start(tmp_path: Path, wait: int = 60) -> subprocess.CompletedProcess:
    """What nginx's start runs first (RESTORE_CERTIFICATES, from its unit's drop-in)."""
    return subprocess.run(["bash", "-c", certificates_restorer(scratch_paths(tmp_path), wait)], capture_output=True,
                          text=True)


def run(tmp_path: Path, tls: str, *, fail: bool = False, acme: AcmeClient = LETS_ENCRYPT,
        certbot: str = CERTBOT) -> subprocess.CompletedProcess:
    le = tmp_path / "letsencrypt"
    paths = scratch_paths(tmp_path)
    stub = tmp_path / "stub"
    stub.mkdir(exist_ok=True)
    (stub / "certbot").write_text(certbot)
    (stub / "certbot").chmod(0o755)
    (stub / "fail").unlink(missing_ok=True)
    if fail:
        (stub / "fail").touch()
    script = ("set -euo pipefail\n"
              + certificates_locked([certificate_script(HOST, tls=tls, email="ops@example.com", paths=paths,
                                                        acme=acme)], paths).replace(" -o root -g root", "")
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
    assert f"CA={bundle_file(paths)}" in call
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


def test_certbot_s_bundle_holds_the_system_roots_then_the_stack_s(tmp_path: Path) -> None:
    """REQUESTS_CA_BUNDLE replaces the system's roots, and the timer's renewals cover every certbot
    certificate on the host: a bundle of the private roots alone made every renewal at a public CA fail
    (round 22). The setup step's certbot and the timer's unit both read the bundle."""
    stub = tmp_path / "bin"
    stub.mkdir()
    # Like systemd: `show` tells the environment loaded at the last daemon-reload.
    (stub / "systemctl").write_text("""#!/bin/bash
if [ "$1" = show ]; then cat "$LOG.loaded" 2>/dev/null; exit 0; fi
echo "systemctl $*" >> "$LOG"
if [ "$1" = daemon-reload ]; then
  sed -n 's/^Environment=//p' "$UNIT" 2>/dev/null > "$LOG.loaded" || true
fi
""")
    (stub / "systemctl").chmod(0o755)
    paths = Paths(etc=str(tmp_path / "etc"), systemd=str(tmp_path / "systemd"))
    Path(paths.etc).mkdir()
    env = {"PATH": f"{stub}:/usr/bin:/bin", "LOG": str(tmp_path / "log"),
           "UNIT": f"{paths.systemd}/certbot.service.d/stackyard-acme.conf"}
    for _ in range(2):  # the second run finds the unit's environment as it is: no daemon-reload
        subprocess.run(["bash", "-euo", "pipefail", "-c", PRIVATE.install_for_certbot(paths)], check=True, env=env)
    bundle = Path(bundle_file(paths)).read_text()
    system = Path("/etc/ssl/certs/ca-certificates.crt").read_text()
    assert bundle == system + PRIVATE.ca_root
    assert Path(bundle_file(paths)).stat().st_mode & 0o777 == 0o644
    unit = Path(paths.systemd, "certbot.service.d/stackyard-acme.conf").read_text()
    assert unit == f"[Service]\nEnvironment=REQUESTS_CA_BUNDLE={bundle_file(paths)}\n"
    assert (tmp_path / "log").read_text() == "systemctl daemon-reload\n"

    # Taken away: the drop-in, then systemd's reload, then the bundle; a run killed at the reload is
    # finished by the next (round 23: the drop-in gone, the next run never reloaded, and certbot.service
    # kept a bundle that was no longer there).
    removal = LETS_ENCRYPT.install_for_certbot(paths)
    assert removal.index("stackyard-acme.conf") < removal.index("daemon-reload") < removal.index("acme-ca-bundle")
    killed = env | {"PATH": f"{tmp_path / 'killing'}:{env['PATH']}"}
    (tmp_path / "killing").mkdir()
    (tmp_path / "killing" / "systemctl").write_text(
        f"#!/bin/bash\n[ \"$1\" = daemon-reload ] && kill -KILL $PPID\nexec {stub}/systemctl \"$@\"\n")
    (tmp_path / "killing" / "systemctl").chmod(0o755)
    assert subprocess.run(["bash", "-euo", "pipefail", "-c", removal], env=killed).returncode == -9
    subprocess.run(["bash", "-euo", "pipefail", "-c", removal], check=True, env=env)
    assert not Path(paths.systemd, "certbot.service.d/stackyard-acme.conf").exists()
    assert not (tmp_path / "etc" / "acme-ca-bundle.pem").exists()
    assert (tmp_path / "log.loaded").read_text() == ""  # certbot.service no longer names it


@pytest.mark.skipif(subprocess.run(["which", "openssl"], capture_output=True).returncode != 0,
                    reason="openssl is not installed")
def test_a_run_killed_while_certbot_works_leaves_nginx_a_certificate_to_read(tmp_path: Path) -> None:
    """The stand-in is set aside while certbot runs; a run killed then left nothing where the site reads
    it, and every deploy's `nginx -t` failed until the next proxy step (round 22). The deploy's reload
    (proxy-nginx.sh) and the next run put it back first."""
    assert run(tmp_path, "letsencrypt", fail=True).returncode == 1
    stand_in = served(tmp_path)
    # certbot killed with the whole step: the shell that runs it goes first.
    killed = "#!/bin/bash\nkill -KILL $PPID\n"
    assert run(tmp_path, "letsencrypt", certbot=killed).returncode == -9
    live = tmp_path / "letsencrypt/live" / HOST
    assert not live.exists()

    assert restore_at_start(tmp_path).returncode == 0
    assert served(tmp_path) == stand_in

    assert run(tmp_path, "letsencrypt", certbot=killed).returncode == -9
    assert run(tmp_path, "letsencrypt").returncode == 0  # the next run puts it back, then certbot succeeds
    assert served(tmp_path).startswith("certbot's certificate")
    assert not (tmp_path / "etc/self-signed" / HOST).exists()


@pytest.mark.skipif(subprocess.run(["which", "openssl", "flock"], capture_output=True).returncode != 0,
                    reason="openssl or flock is not installed")
def test_a_deploy_s_reload_while_certbot_works_waits_for_it(tmp_path: Path) -> None:
    """A deploy run by hand during the proxy step's certbot put the stand-in back under certbot, which then
    found a live directory it did not own: its lineage went to <host>-0001 and the site kept the stand-in,
    one new certificate per run (round 23). The reload waits for the proxy step's lock."""
    assert run(tmp_path, "letsencrypt", fail=True).returncode == 1
    reload = deploy_reload(tmp_path)
    # certbot starts a deploy's reload beside itself, and gives it a second to do its worst.
    # (It closes the lock's descriptor it inherits: a deploy, started over SSH, has none.)
    racing = CERTBOT.replace("#!/bin/bash\n", f"#!/bin/bash\n(exec 8>&-; SITE_HOSTS= ROOT= bash {reload} "
                                              ">/dev/null 2>&1 &)\nsleep 1\n", 1)
    assert run(tmp_path, "letsencrypt", certbot=racing).returncode == 0
    time.sleep(1)
    assert served(tmp_path).startswith("certbot's certificate")
    assert not (tmp_path / "letsencrypt/live" / f"{HOST}-0001").exists()


def test_a_proxy_that_stops_using_certbot_s_ca_takes_its_bundle_away() -> None:
    """The drop-in that makes every certbot renewal on the host read the stack's bundle was taken away
    only by an nginx still getting certificates from certbot: a move to tls: internal, to Caddy, or to no
    hostname left it, and the private roots trusted, for good (round 24)."""
    from components.render.provision import caddy_setup_script, nginx_setup_script

    removal = LETS_ENCRYPT.install_for_certbot(Paths())
    assert "rm -f /etc/systemd/system/certbot.service.d/stackyard-acme.conf" in removal
    internal = nginx_setup_script(["a.example.com"], tls="internal", email=None, site="", bootstrap="", upstreams={})
    no_hostnames = nginx_setup_script([], tls="letsencrypt", email=None, site="", bootstrap="", upstreams={})
    caddy = caddy_setup_script("# Managed by stackyard.\n", {}, acme=LETS_ENCRYPT, hostnames=["a.example.com"])
    for script in (internal, no_hostnames, caddy):
        assert removal in script


@pytest.mark.skipif(subprocess.run(["which", "openssl", "flock"], capture_output=True).returncode != 0,
                    reason="openssl or flock is not installed")
def test_a_deploy_s_reload_never_checks_nginx_while_the_certificates_step_has_a_certificate_aside(
        tmp_path: Path) -> None:
    """The certificates step runs beside the deploys (round 24). A reload that found nothing set aside ran
    `nginx -t` and the reload without the step's lock; the step set the stand-in aside meanwhile, nginx -t
    found no certificate, and the deploy failed, its service held back by another hostname's DNS (round
    25: 87 of 600 reloads with the real nginx -t). The check and the reload now hold the lock."""
    assert run(tmp_path, "letsencrypt", fail=True).returncode == 1  # a stand-in where the site reads it
    reload = deploy_reload(tmp_path)
    # The deploy's nginx -t takes a second; the certificates step starts while it is at it.
    deploy = subprocess.Popen(["bash", reload], env={"SITE_HOSTS": HOST, "NGINX_T_TAKES": "1", "PATH": "/usr/bin:/bin"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.3)
    slow = CERTBOT.replace("#!/bin/bash\n", "#!/bin/bash\nsleep 1\n", 1)
    assert run(tmp_path, "letsencrypt", fail=True, certbot=slow).returncode == 1
    output, _ = deploy.communicate(timeout=30)
    assert deploy.returncode == 0, output
    assert "BEGIN CERTIFICATE" in served(tmp_path)


def test_nginx_s_start_puts_a_set_aside_certificate_back_before_its_own_check() -> None:
    """A certificates step killed while certbot worked left nothing where the site reads the certificate;
    a reboot or a package upgrade's restart then found nginx -t failing, every hostname down, until the
    next deploy or `up` (round 25). The drop-in runs the restore first, then the unit's own check."""
    from components.render.provision import NGINX_TEST, RESTORE_CERTIFICATES, nginx_setup_script

    script = nginx_setup_script([HOST], tls="letsencrypt", email=None, site="", bootstrap="", upstreams={})
    drop_in = script.split("nginx.service.d/stackyard-certificates.conf.new <<", 1)[1].split("\n", 1)[1]
    lines = drop_in.splitlines()
    assert lines[:4] == ["[Service]", "ExecStartPre=", f"ExecStartPre={RESTORE_CERTIFICATES}",
                         f"ExecStartPre={NGINX_TEST}"]
    assert script.index(RESTORE_CERTIFICATES) < script.index("certbot certonly")


@pytest.mark.skipif(subprocess.run(["which", "openssl", "flock"], capture_output=True).returncode != 0,
                    reason="openssl or flock is not installed")
def test_nginx_s_start_waits_a_bounded_time_for_the_certificates_lock(tmp_path: Path) -> None:
    """A holder of the lock that reloads nginx (a deploy, certbot's hook) while a restart waits in the
    restore would wait for that very start: both stood still until systemd's start timeout, nginx then
    stopped (round 26). The restore gives up first, and nginx's own check decides."""
    assert run(tmp_path, "letsencrypt", fail=True).returncode == 1
    paths = scratch_paths(tmp_path)
    aside = Path(paths.set_aside) / HOST
    aside.parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "letsencrypt/live" / HOST).rename(aside)
    holder = subprocess.Popen(["flock", paths.certificates_lock, "sleep", "30"], start_new_session=True)
    try:
        time.sleep(0.3)
        started = time.monotonic()
        assert restore_at_start(tmp_path, wait=1).returncode == 0
        assert time.monotonic() - started < 10
        assert aside.exists()  # left to nginx -t, as without the restore
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    assert restore_at_start(tmp_path, wait=1).returncode == 0
    assert "BEGIN CERTIFICATE" in served(tmp_path)


def test_a_changed_drop_in_is_loaded_even_where_an_older_one_was(tmp_path: Path) -> None:
    """Only a drop-in systemd had never loaded was reloaded: a later change to it stayed on disk unread
    until a reboot (round 26). systemd's NeedDaemonReload says the files changed since."""
    from components.render.provision import nginx_start_restores_certificates

    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "systemctl").write_text("""#!/bin/bash
case "$*" in
  "show nginx --property ExecStartPre") echo "ExecStartPre={ path=/usr/local/sbin/stackyard-restore-certificates ; }";;
  "show nginx --property NeedDaemonReload --value") echo yes;;
  daemon-reload) echo reloaded >> "$LOG";;
esac
""")
    (stub / "systemctl").chmod(0o755)
    script = nginx_start_restores_certificates(Paths(systemd=str(tmp_path / "systemd")))
    steps = script[script.index("install -d -m 0755"):]
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", steps], capture_output=True, text=True,
                          env={"PATH": f"{stub}:/usr/bin:/bin", "LOG": str(tmp_path / "log")})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "log").read_text() == "reloaded\n"


@pytest.mark.skipif(subprocess.run(["which", "openssl"], capture_output=True).returncode != 0,
                    reason="openssl is not installed")
@pytest.mark.parametrize("tls", ["internal", "letsencrypt"])
def test_a_hostname_longer_than_a_common_name_still_gets_its_certificate(tmp_path: Path, tls: str) -> None:
    """A valid hostname of more than 64 characters (X.509's limit for a common name) made openssl fail with
    nothing said, and the whole proxy step with it: no site for any hostname of the host (round 27)."""
    hostname = "a" * 60 + ".example.com"
    paths = scratch_paths(tmp_path)
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "certbot").write_text("#!/bin/bash\nexit 1\n")  # the CA gives nothing yet: the stand-in
    (stub / "certbot").chmod(0o755)
    script = "set -euo pipefail\n" + certificates_locked(
        [certificate_script(hostname, tls=tls, email=None, paths=paths)], paths).replace(" -o root -g root", "")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env={"PATH": f"{stub}:/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                           f"{paths.certs}/{hostname}/fullchain.pem"], capture_output=True, text=True).stdout
    assert f"DNS:{hostname}" in text
