"""The service's user, as its provisioning script makes or takes it: run with `id` answering for a user
of each kind (every command that would change the host is a stub that only records its arguments)."""

from __future__ import annotations

import posixpath
import random
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.render_samples import seed_plans

from components.model.host_layout import Paths
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


# Names the host may hold in a service's files directory (what an older stack, an operator or a killed
# write left there): each tries to slip past the prune by looking like a pattern, an option or two lines.
LEFT_OVER = ["old-credentials.json", "-rf", "--delete", "two\nlines.json", "a b.json", "*", "?", "[k]ey.json",
             "key.json.bak", "key.json\n", ".stackyard.Xa3kq0", "config/revoked.json", "deep/er/still/old.pem",
             "config/key.json~", "é日本語\u202e.json"]


def listed_files(seed: int) -> tuple[str, ...]:
    """Files a stack lists: relative or absolute (compose), some through './', some with the characters a
    glob would read (impossible in a stack file, which allows only ._/@+-: the script must not rely on it)."""
    rng = random.Random(seed)
    alphabet = "abcXYZ019._@+-"
    def part() -> str:
        return rng.choice("abcXYZ019_@+") + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
    files = {"/".join(part() for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 6))}
    files |= {"/" + f for f in list(files)[:1]} | {"./x" + part(), "key.json", "config/key.json", "g[l]o*b?.json"}
    return tuple(sorted(files))


@pytest.mark.parametrize("seed", range(6))
def test_a_file_taken_out_of_the_stack_leaves_the_host(tmp_path: Path, seed: int) -> None:
    """Every deploy copies the whole files directory into its release: what the stack no longer lists
    (a revoked credential) is deleted by the user step, which runs before the files' writes; what it
    lists stays, and so does whatever a link there led to (links are removed, never followed)."""
    files = listed_files(seed)
    plan = replace(next(p for p in seed_plans()["systemd"] if p.name == "mivaa"), files=files,
                   paths=Paths(srv=f"{tmp_path}/srv", etc=f"{tmp_path}/etc/stackyard", var=f"{tmp_path}/var"))
    directory = Path(plan.paths.etc) / plan.name / "files"
    listed = {directory / posixpath.normpath(f.strip("/")) for f in files}
    for path in listed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("kept")
    for name in LEFT_OVER:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text("REVOKED")
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret").write_text("not the stack's")
    (outside / "dir" / "inner").write_text("not the stack's")
    (directory / "to-a-file").symlink_to(outside / "secret")
    (directory / "config" / "to-a-dir").symlink_to(outside / "dir")
    (directory / "empty" / "emptier").mkdir(parents=True)

    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "id").write_text('#!/bin/sh\ncase "$1" in -u) echo 998;; -nG) echo svc-mivaa;; *) exit 2;; esac\n')
    for command in ("useradd", "chown"):
        (stub / command).write_text("#!/bin/sh\n")
    # install -d [-m M] [-o U] [-g G] DIR...: the directories, made as this user.
    (stub / "install").write_text('#!/bin/bash\nshift\nwhile [[ $1 == -? ]]; do shift 2; done\nmkdir -p -- "$@"\n')
    for path in stub.iterdir():
        path.chmod(0o755)
    script = tmp_path / "user.sh"
    script.write_text(provision.service_user_script(plan))
    done = subprocess.run([shutil.which("bash") or "/bin/bash", str(script)],
                          env={"PATH": f"{stub}:/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

    left = {p for p in directory.rglob("*") if not p.is_dir() or p.is_symlink()}
    assert left == listed, sorted(map(str, left ^ listed))
    assert all(p.read_text() == "kept" for p in listed)
    # No directory is left but those of listed files.
    parents = {q for p in listed for q in p.parents if directory in q.parents}
    assert {p for p in directory.rglob("*") if p.is_dir()} == parents
    assert (outside / "secret").read_text() == "not the stack's"
    assert (outside / "dir" / "inner").read_text() == "not the stack's"
