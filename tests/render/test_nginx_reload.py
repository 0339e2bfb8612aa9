"""The deploy's nginx reload, run against a real nginx in a network and mount namespace of its own
(its /run, its loopback): it waits for the workers from before the reload, counts only the host
nginx's own (not another process titled like one, such as an nginx in a container), and fails when
they still take connections after 10 s, so that the switch puts the previous upstream back."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components.render.scripts import SHELL as SHELL_DIR

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("nginx") or not shutil.which("unshare"),
    reason="needs root (namespaces), unshare and nginx")

CONF = """pid /run/nginx.pid;
worker_processes 2;
error_log {tmp}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{ listen 127.0.0.1:8080; return 200 "ok\\n"; }}
}}
"""


def reload_in_a_namespace(tmp: Path, systemctl: str) -> subprocess.CompletedProcess:
    """Starts nginx and a decoy titled as its worker, then runs reload_proxy with ``systemctl`` as the
    body of the systemctl it calls; prints the decoy's pid, the workers before, and reload's status."""
    (tmp / "nginx.conf").write_text(CONF.format(tmp=tmp))
    script = tmp / "reload.sh"
    script.write_text(f"""set -uo pipefail
mount -t tmpfs tmpfs /run
ip link set lo up
log() {{ echo "LOG: $*" >&2; }}
nginx() {{ command nginx -c {tmp}/nginx.conf "$@"; }}
systemctl() {{ {systemctl}; }}
CERTS={tmp}/live SET_ASIDE={tmp}/self-signed CERTIFICATES_LOCK={tmp}/certificates.lock
source {SHELL_DIR}/certificates-aside.sh
source {SHELL_DIR}/proxy-nginx.sh
nginx || exit 9
bash -c 'exec -a "nginx: worker process" sleep 60' &
decoy=$!
for _ in $(seq 50); do [ "$(accepting_workers | wc -l)" = 2 ] && break; sleep 0.1; done
echo "decoy $decoy"
echo "before $(accepting_workers | tr '\\n' ' ')"
reload_proxy
echo "status $?"
echo "after $(accepting_workers | tr '\\n' ' ')"
kill "$decoy"
nginx -s stop
""")
    return subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "bash", str(script)],
                          capture_output=True, text=True, timeout=60)


def fields(result: subprocess.CompletedProcess) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.strip()}


def test_a_reload_waits_for_the_workers_from_before_it_and_ignores_others(tmp_path: Path) -> None:
    result = reload_in_a_namespace(tmp_path, "nginx -s reload")
    seen = fields(result)
    assert seen["status"] == ["0"], result.stderr
    assert len(seen["before"]) == 2 and seen["decoy"][0] not in seen["before"]
    # Once it returns, every worker taking connections is one the reload started.
    assert len(seen["after"]) == 2 and not set(seen["after"]) & set(seen["before"])


def test_a_reload_whose_old_workers_go_on_taking_connections_fails(tmp_path: Path) -> None:
    """`systemctl reload` said yes, and nothing changed: after 10 s the reload is a failure."""
    result = reload_in_a_namespace(tmp_path, ":")
    seen = fields(result)
    assert seen["status"] == ["1"]
    assert "still take connections after 10 s" in result.stderr
    assert seen["after"] == seen["before"]
