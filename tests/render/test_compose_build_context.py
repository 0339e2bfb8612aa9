"""A compose slot builds only from inside its release: the runtime's start_slot, run by bash on a scratch
release, with docker a stub that logs what it was asked.

Root runs the build, and buildx follows a link at the build context's root. The release is written by
its repository and by the install steps the service's user runs, so either could point the context or
the Dockerfile at root's files (every service's secrets in /etc/stackyard) and have them built into
the image the service then runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.model.host_layout import Paths
from components.render.deploy import service_header
from components.render.layout import ServicePlan
from components.render.scripts import shell

DOCKER = '#!/bin/sh\necho "docker $*" >> "$STUB/calls.log"\n'
# chown -R as a process of the service's user would see it: it walks a directory's entries before the
# directory, and that process made a directory of its own in one the walk had not reached yet.
RACING_CHOWN = '#!/bin/sh\n/bin/chown "$@"\nmkdir "$RELEASE/late" && /bin/chown 65534:65534 "$RELEASE/late"\n'

@pytest.fixture
def host_dirs() -> Iterator[Path]:
    """A scratch root the service's user (nobody here) can walk down to its release, as on a host: pytest's
    own directories are root's alone."""
    root = Path(tempfile.mkdtemp(prefix="stackyard-compose-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


# How the release's build context and Dockerfile look; whether the build may run.
RELEASES = {
    "a plain directory": ("mkdir -p svc && touch svc/Dockerfile", True),
    "a link to a directory of the release": ("mkdir -p real && touch real/Dockerfile && ln -s real svc", True),
    "a link to root's secrets": ("ln -s $SECRETS svc", False),
    "a relative link out of the release": ('ln -s "$(realpath --relative-to=. "$SECRETS")" svc', False),
    "a Dockerfile that links out": ("mkdir -p svc && ln -s $SECRETS/env svc/Dockerfile", False),
    "a directory whose parent is a link out": ("ln -s $SECRETS/.. up && ln -s up/secrets svc", False),
    "no context at all": (":", False),
    "a process of the service's user at work during the chown": ("mkdir -p svc && touch svc/Dockerfile", False),
}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the release changes owner")
@pytest.mark.parametrize("release", RELEASES)
def test_a_build_context_or_dockerfile_that_leads_out_of_the_release_builds_nothing(release: str, tmp_path: Path,
                                                                                    host_dirs: Path) -> None:
    prepare, builds = RELEASES[release]
    paths = Paths(srv=str(host_dirs / "srv"), var=str(tmp_path / "var"), etc=str(tmp_path / "etc"))
    plan = ServicePlan(name="ai", runtime="compose", repo="r", ref="main", command="", port=8000, paths=paths,
                       build_context="svc", dockerfile="Dockerfile")
    base = Path(paths.app("ai"))
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "env").write_text("TOKEN=secret\n")
    release_dir = base / "releases" / "r1"
    release_dir.mkdir(parents=True)
    (base / "slots").mkdir()
    (base / "slots" / "blue").symlink_to("../releases/r1")
    subprocess.run(["bash", "-c", prepare], cwd=release_dir, env={"SECRETS": str(secrets), "PATH": "/usr/bin:/bin"},
                   check=True)
    # As the deploy leaves it: the service's user owns its release, group-writable as git may leave it.
    subprocess.run(["chown", "-R", "-h", "65534:65534", str(release_dir)], check=True)
    subprocess.run(["chmod", "-R", "g+w", str(release_dir)], check=True)
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "docker").write_text(DOCKER)
    (stub / "docker").chmod(0o755)
    if "at work" in release:
        (stub / "chown").write_text(RACING_CHOWN)
        (stub / "chown").chmod(0o755)
    script = tmp_path / "start"
    # The service's user is nobody here (svc-ai is no account on this machine): the release is nobody's.
    script.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + service_header(plan, None)
                      + "SERVICE_USER=nobody\nlog() { printf '%s\\n' \"$*\"; }\n" + shell("common.sh")
                      + shell("runtime-compose.sh")
                      + "if start_slot blue; then echo started; else echo refused; fi\n")
    done = subprocess.run(["bash", str(script)], env={"PATH": f"{stub}:/usr/sbin:/usr/bin:/sbin:/bin",
                                                      "STUB": str(tmp_path), "RELEASE": str(release_dir)},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    calls = (tmp_path / "calls.log").read_text() if (tmp_path / "calls.log").exists() else ""
    if builds:
        assert done.stdout.strip().endswith("started"), done.stdout
        assert " up --detach --build " in calls
        # Root's now, and written by root alone: the service's user cannot swap a link in after the check.
        for path in [release_dir, *release_dir.rglob("*")]:
            if not path.is_symlink():
                assert path.stat().st_uid == 0 and path.stat().st_mode & 0o022 == 0, path
    else:
        assert done.stdout.strip().endswith("refused"), done.stdout
        assert calls == ""  # docker was never asked: nothing was built


# chmod as the deploy runs it, recording who ran it and whose the tree was: root's chmod -R over a tree the
# service's user still owns follows a link that user swaps in between its look and its change.
RECORDING_CHMOD = ('#!/bin/sh\necho "$(id -u) $(find "$RELEASE" ! -user root | wc -l)" >> "$STUB/chmods.log"\n'
                   'exec /bin/chmod "$@"\n')


def start_nobodys_release(tmp_path: Path, host_dirs: Path, mode: str, stubs: dict[str, str],
                          roots: tuple[str, ...] = (), built: bool = False) -> tuple[subprocess.CompletedProcess, Path]:
    """start_slot on a release with its Dockerfile that nobody (the service's user here) owns but ``roots``
    (root's already), ``mode`` added to it (chmod -R), ``stubs`` (name: script) first on PATH with docker's;
    what it printed, and the release."""
    paths = Paths(srv=str(host_dirs / "srv"), var=str(tmp_path / "var"), etc=str(tmp_path / "etc"))
    plan = ServicePlan(name="ai", runtime="compose", repo="r", ref="main", command="", port=8000, paths=paths,
                       build_context="svc", dockerfile="Dockerfile")
    base = Path(paths.app("ai"))
    release_dir = base / "releases" / "r1"
    (release_dir / "svc").mkdir(parents=True)
    (release_dir / "svc" / "Dockerfile").write_text("FROM scratch\n")
    (base / "slots").mkdir()
    (base / "slots" / "blue").symlink_to("../releases/r1")
    subprocess.run(["chown", "-R", "-h", "65534:65534", str(release_dir)], check=True)
    subprocess.run(["chmod", "-R", mode, str(release_dir)], check=True)
    for path in roots:
        os.chown(release_dir / path, 0, 0)
    if built:
        Path(f"{release_dir}.built").touch()
    stub = tmp_path / "bin"
    stub.mkdir()
    for name, body in {"docker": DOCKER, **stubs}.items():
        (stub / name).write_text(body)
        (stub / name).chmod(0o755)
    script = tmp_path / "start"
    script.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + service_header(plan, None)
                      + "SERVICE_USER=nobody\nlog() { printf '%s\\n' \"$*\"; }\n" + shell("common.sh")
                      + shell("runtime-compose.sh") + "if start_slot blue; then echo started; else echo refused; fi\n")
    # From root's home, as a deploy runs (the service's user may not enter it: the e2e host found find failing).
    done = subprocess.run(["bash", str(script)], env={"PATH": f"{stub}:/usr/sbin:/usr/bin:/sbin:/bin",
                                                      "STUB": str(tmp_path), "RELEASE": str(release_dir)},
                          capture_output=True, text=True, cwd="/root")
    return done, release_dir


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the release changes owner")
def test_root_changes_no_mode_in_a_release_the_services_user_still_owns(tmp_path: Path, host_dirs: Path) -> None:
    """chmod -R stats an entry and then changes it, following a link: a process of the service's user
    swapping its setuid file for a link to a root binary between the two made that binary setuid root (a
    reviewer's race, 3 wins in 8 tries). The write bits go as the user, before the release is root's."""
    (tmp_path / "chmods.log").touch()
    (tmp_path / "chmods.log").chmod(0o666)
    # A process of the user at work during the chown, as in the race: a directory of its own appears in one
    # the walk had not reached.
    done, _ = start_nobodys_release(tmp_path, host_dirs, "g+w", {"chmod": RECORDING_CHMOD, "chown": RACING_CHOWN})
    assert done.stdout.strip().endswith("refused"), done.stdout + done.stderr  # the user's directory is found
    chmods = [line.split() for line in (tmp_path / "chmods.log").read_text().splitlines()]
    # Root changed no mode while anything in the release was the user's (the user's own chmod, with its own
    # PATH, is not the recording one).
    assert all(runner != "0" or foreign == "0" for runner, foreign in chmods), chmods
    assert not (tmp_path / "calls.log").exists()  # nothing built


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the release changes owner")
def test_the_write_bits_go_before_the_build(tmp_path: Path, host_dirs: Path) -> None:
    done, release_dir = start_nobodys_release(tmp_path, host_dirs, "go+w", {})
    assert done.stdout.strip().endswith("started"), done.stdout + done.stderr
    for path in [release_dir, *release_dir.rglob("*")]:
        assert path.stat().st_uid == 0 and path.stat().st_mode & 0o022 == 0, path


@pytest.mark.skipif(subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
                    reason="the docker CLI's compose plugin is not installed (make deps installs it)")
@pytest.mark.parametrize("dotenv", ["a link to a secret", "compose settings"])
def test_root_s_compose_reads_nothing_of_the_release_as_its_own_settings(dotenv: str, tmp_path: Path) -> None:
    """The real `docker compose config`, through the runtime's compose(), on a release whose .env is a link
    to a secret (compose quoted its first line in an error) or sets COMPOSE_* and interpolated values."""
    paths = Paths(srv=str(tmp_path / "srv"), var=str(tmp_path / "var"), etc=str(tmp_path / "etc"))
    plan = ServicePlan(name="ai", runtime="compose", repo="r", ref="main", command="", port=8000, paths=paths,
                       build_context="svc", dockerfile="Dockerfile")
    release = Path(paths.app("ai")) / "slots" / "blue"
    release.mkdir(parents=True)
    secret = tmp_path / "s3-secret-key"
    secret.write_text("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    if dotenv == "a link to a secret":
        (release / ".env").symlink_to(secret)
    else:
        (release / ".env").write_text(f"COMPOSE_FILE={tmp_path}/theirs.yaml\nFROM_RELEASE=theirs\n")
        (tmp_path / "theirs.yaml").write_text("services:\n  theirs:\n    image: theirs\n    privileged: true\n")
    header = service_header(plan, None)
    definition = tmp_path / "definition.yaml"
    definition.write_text("services:\n  app:\n    image: app\n    group_add: ['${STACKYARD_SERVICE_GID:?}']\n"
                          "    environment: {FROM: '${FROM_RELEASE:-ours}'}\n")
    script = tmp_path / "config"
    script.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + header + f"DEFINITION_BLUE={definition}\n"
                      + "SERVICE_USER=root\nlog() { printf '%s\\n' \"$*\"; }\n" + shell("common.sh")
                      + shell("runtime-compose.sh") + "compose blue config\n")
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")})
    assert "wJalrXUtnFEMI" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stderr
    assert "theirs" not in done.stdout and "privileged" not in done.stdout
    assert "FROM: ours" in done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the release changes owner")
def test_a_release_a_killed_deploy_left_partly_roots_starts_at_the_next(tmp_path: Path, host_dirs: Path) -> None:
    """Round 39: a deploy killed during the chown left part of the tree root's; the user's chmod -R of it
    failed, and the release, marked built, failed every deploy after. What the user still owns loses its
    write bits as the user; what root's is and still writable (which only root may change, and not in a tree
    the user could change: a link swapped in would lead root's chmod anywhere) has it built again."""
    done, release_dir = start_nobodys_release(tmp_path, host_dirs, "u+r", {}, roots=("svc",))
    assert done.stdout.strip().endswith("started"), done.stdout + done.stderr  # root's, and already safe
    (tmp_path / "again").mkdir()
    done, release_dir = start_nobodys_release(tmp_path / "again", host_dirs / "again", "go+w", {},
                                              roots=("svc/Dockerfile",), built=True)
    assert done.stdout.strip().endswith("refused") and "built again at the next deploy" in done.stdout
    assert not Path(f"{release_dir}.built").exists()  # the next deploy builds it from its commit
