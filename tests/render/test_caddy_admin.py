"""Caddy's admin API, with the real Caddy in a network namespace of its own: the Caddyfile stackyard renders
puts it on a socket in a directory only Caddy's user reaches, so `caddy reload` (the unit's ExecReload)
works and no other local user can load a configuration: on localhost:2019, Caddy's default, a service's
user could route every hostname to itself or serve Caddy's keys."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components.render.proxy import CADDY_ADMIN, caddyfile

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("caddy", "unshare", "curl", "setpriv")),
    reason="needs root (a network namespace, another user), caddy, unshare, curl and setpriv")

RUN = r"""
set -euo pipefail
ip link set lo up
export HOME=$D XDG_DATA_HOME=$D XDG_CONFIG_HOME=$D
install -d -m 0700 "$D/admin"
caddy run --adapter caddyfile --config "$D/Caddyfile" > "$D/caddy.log" 2>&1 &
trap 'kill %1 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$D/admin/admin.sock" ] && break; sleep 0.1; done
caddy reload --adapter caddyfile --config "$D/Caddyfile" --force && echo "reload: done"
curl -s -o /dev/null --max-time 2 http://localhost:2019/config/ && echo "tcp 2019: open" || echo "tcp 2019: closed"
curl -s -o /dev/null --max-time 2 --unix-socket "$D/admin/admin.sock" http://localhost/config/ \
  && echo "socket, root: open" || echo "socket, root: closed"
setpriv --reuid=65534 --regid=65534 --clear-groups \
  curl -s -o /dev/null --max-time 2 --unix-socket "$D/admin/admin.sock" http://localhost/config/ \
  && echo "socket, another user: open" || echo "socket, another user: closed"
"""


def test_only_caddys_own_user_reaches_its_admin_api_and_a_reload_still_works(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hi")
    text = caddyfile([], email=None, tls="internal", security_headers=True,
                     static={"static.stackyard.test": str(tmp_path / "www")})
    assert f"\tadmin {CADDY_ADMIN}\n" in text
    # Here: a scratch directory for the socket, other ports, no trust store.
    text = text.replace(CADDY_ADMIN, f"unix/{tmp_path}/admin/admin.sock").replace(
        "{\n", "{\n\thttp_port 18080\n\thttps_port 18443\n\tskip_install_trust\n", 1)
    (tmp_path / "Caddyfile").write_text(text)
    tmp_path.chmod(0o755)  # the other user may walk to the admin directory, which alone keeps it out
    done = subprocess.run(["unshare", "--net", "bash", "-c", RUN], env={**os.environ, "D": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    log = (tmp_path / "caddy.log").read_text() if (tmp_path / "caddy.log").exists() else ""
    assert done.returncode == 0, done.stdout + done.stderr + log
    assert done.stdout.splitlines()[-4:] == ["reload: done", "tcp 2019: closed", "socket, root: open",
                                             "socket, another user: closed"], done.stdout + done.stderr + log
