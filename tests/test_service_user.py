"""The service's user, as its provisioning script makes or takes it: run with `id` answering for a user
of each kind (every command that would change the host is a stub that only records its arguments)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from render_samples import seed_plans

from components.render import provision

# What `id` says of svc-mivaa: None when there is no such user, else its uid and its groups.
USERS = {
    "none yet": (None, True),
    "a system user of its own": ((998, "svc-mivaa"), True),
    "a login user": ((1001, "svc-mivaa"), False),
    "nobody's uid": ((65534, "svc-mivaa"), False),
    "root's uid": ((0, "root"), False),
    "a system user in sudo": ((998, "svc-mivaa sudo"), False),
    "a system user in admin": ((998, "svc-mivaa admin"), False),
    "a system user in wheel": ((998, "svc-mivaa wheel"), False),
    "a system user in docker": ((998, "svc-mivaa docker"), False),
    "a system user in disk (raw block devices)": ((998, "svc-mivaa disk"), False),
    "a system user in shadow (every password hash)": ((998, "svc-mivaa shadow"), False),
    "a system user in a harmless group": ((998, "svc-mivaa ssl-cert"), True),
}


def run_script(tmp_path: Path, user: tuple[int, str] | None) -> subprocess.CompletedProcess:
    plan = next(p for p in seed_plans()["systemd"] if p.name == "mivaa")
    stub = tmp_path / "bin"
    stub.mkdir()
    uid, groups = user if user else (0, "")
    (stub / "id").write_text(
        "#!/bin/sh\n"
        + ("exit 1\n" if user is None else
           f'case "$1" in -u) echo {uid};; -nG) echo "{groups}";; *) exit 2;; esac\n'))
    for command in ("useradd", "install", "find", "chown", "rm"):
        (stub / command).write_text(f'#!/bin/sh\necho "{command} $*" >> "{tmp_path}/ran"\n')
    for path in stub.iterdir():
        path.chmod(0o755)
    script = tmp_path / "user.sh"
    script.write_text(provision.service_user_script(plan))
    return subprocess.run([shutil.which("bash") or "/bin/bash", str(script)],
                          env={"PATH": f"{stub}:/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("kind", USERS)
def test_a_service_user_is_a_system_user_no_root_granting_group_holds(tmp_path: Path, kind: str) -> None:
    """A svc-<name> made by hand, a login user (uid 1000 and up) or one in sudo, would run the service
    as a user that logs in or becomes root: the script stops before it hands that user anything."""
    user, accepted = USERS[kind]
    done = run_script(tmp_path, user)
    ran = (tmp_path / "ran").read_text() if (tmp_path / "ran").exists() else ""
    if accepted:
        assert done.returncode == 0, done.stderr
        assert ("useradd --system" in ran) == (user is None)
        assert "install -d -m 0700 -o svc-mivaa" in ran
    else:
        assert done.returncode != 0
        assert "stackyard: the user svc-mivaa" in done.stderr, done.stderr
        assert ran == "", ran
