"""A service's log directory, made for real by the setup lines stackyard renders: root hands over only a
directory that is new, or the service's already. Run in a mount namespace whose /var/log is empty and
whose passwd has the service's user, so nothing reaches this machine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components.render.layout import ServicePlan
from components.render.logs import log_setup

PLAN = ServicePlan(name="app", runtime="systemd", repo="https://example.com/app.git", ref="main",
                   log_files=("/var/log/app/app.log", "/var/log/app/jobs/worker.log"))

BEFORE = {
    "missing": "",
    "the service's": "install -d -o svc-app -g svc-app /var/log/app",
    "another user's, empty": "install -d -o nobody -g nogroup /var/log/app",
    "root's, empty": "install -d -m 0755 /var/log/app",
    "another user's, with logs": "install -d -o nobody /var/log/app && touch /var/log/app/their.log",
    "a link to another directory": "mkdir -p /var/log/theirs && ln -s theirs /var/log/app",
}


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root for a mount namespace (unshare) with its own /var/log and passwd")
@pytest.mark.parametrize("state", list(BEFORE))
def test_a_log_directory_is_handed_to_the_service_only_if_new_or_its_own(state: str, tmp_path: Path) -> None:
    passwd, group = tmp_path / "passwd", tmp_path / "group"
    passwd.write_text(Path("/etc/passwd").read_text() + "svc-app:x:64999:64999::/nonexistent:/usr/sbin/nologin\n")
    group.write_text(Path("/etc/group").read_text() + "svc-app:x:64999:\n")
    script = tmp_path / "setup"
    script.write_text("set -euo pipefail\n" + log_setup(PLAN))
    report = ("stat -c '%n %U %a %F' /var/log/app /var/log/app/jobs /var/log/theirs 2>/dev/null || true")
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c",
         f"set -e; mount -t tmpfs tmpfs /var/log; mount --bind {passwd} /etc/passwd; "
         f"mount --bind {group} /etc/group; {BEFORE[state] or ':'}; "
         f"bash {script} && echo SETUP-OK; {report}"],
        capture_output=True, text=True, timeout=60)
    seen = result.stdout.splitlines()
    if state in ("missing", "the service's"):
        assert "SETUP-OK" in seen, result.stderr
        assert "/var/log/app svc-app 750 directory" in seen
        assert "/var/log/app/jobs svc-app 750 directory" in seen  # made by the service's user, not root
    else:
        assert "SETUP-OK" not in seen
        assert "exists and is not svc-app's" in result.stderr
        assert not any(" svc-app " in line for line in seen), seen  # nothing was handed over
