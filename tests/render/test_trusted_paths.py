"""The host-side check of a static root (components/render/trusted_paths.py), run for real on scratch
directories: the proxy step stops before it touches anything if the root, what is in it, or a directory
above it could be changed by someone other than root. The model cannot see these: they are what the
host made of a name (/var/lock is a link to a directory everyone writes)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from components.render.trusted_paths import static_roots_check

NOBODY = 65534


def plain(root: Path) -> None:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<h1>hi</h1>")
    (root / "latest.html").symlink_to("index.html")  # root's own link: root made it


def missing(root: Path) -> None:
    pass  # only root can make it later: the directories above it are root's alone


def a_link(root: Path) -> None:
    (root.parent / "target").mkdir()
    root.symlink_to(root.parent / "target")


def someone_elses(root: Path) -> None:
    plain(root)
    os.chown(root, NOBODY, NOBODY)


def written_by_all(root: Path) -> None:
    plain(root)
    root.chmod(0o777)


def a_users_directory_in_it(root: Path) -> None:
    plain(root)
    os.chown(root / "assets", NOBODY, NOBODY)


def a_file_the_group_writes(root: Path) -> None:
    plain(root)
    (root / "index.html").chmod(0o664)


def a_users_link_in_it(root: Path) -> None:
    plain(root)
    os.symlink("/etc/shadow", root / "assets" / "key.txt")
    os.lchown(root / "assets" / "key.txt", NOBODY, NOBODY)


def roots_link_out_of_it(root: Path) -> None:
    """Root's own link, to a directory a service writes: the service could put a link to the proxy's
    keys there, and the proxy would serve it."""
    plain(root)
    (root.parent.parent / "shared").mkdir()
    os.chown(root.parent.parent / "shared", NOBODY, NOBODY)
    (root / "uploads").symlink_to(root.parent.parent / "shared")


def roots_link_to_a_link_that_leads_out(root: Path) -> None:
    plain(root)
    (root / "outside").symlink_to("/etc")
    (root / "assets" / "cfg").symlink_to("../outside")


def roots_links_within_it(root: Path) -> None:
    plain(root)
    (root / "assets" / "home").symlink_to("../index.html")
    (root / "again").symlink_to(root / "assets")


def under_a_link_to_a_directory_all_write(root: Path) -> None:
    """/var/lock/site: /var/lock is a link to /run/lock, mode 1777."""
    shared = root.parent.parent / "run-lock"
    shared.mkdir(mode=0o1777)
    shared.chmod(0o1777)
    root.parent.rmdir()
    root.parent.symlink_to(shared)
    plain(root)


def under_a_directory_all_write(root: Path) -> None:
    root.parent.chmod(0o777)
    plain(root)


FINE = [plain, missing, roots_links_within_it]
REFUSED = [a_link, someone_elses, written_by_all, a_users_directory_in_it, a_file_the_group_writes,
           a_users_link_in_it, roots_link_out_of_it, roots_link_to_a_link_that_leads_out,
           under_a_link_to_a_directory_all_write, under_a_directory_all_write]


@pytest.mark.skipif(os.geteuid() != 0, reason="owners other than root can be set by root alone")
@pytest.mark.parametrize("prepare", FINE + REFUSED)
def test_a_static_root_someone_else_could_change_stops_the_proxy_step(tmp_path: Path, prepare) -> None:
    top = tmp_path / "www"  # tmp_path's own parents: /tmp is sticky, the rest root's 0700
    top.mkdir(mode=0o755)
    root = top / "site"
    prepare(root)
    script = tmp_path / "check"
    script.write_text("set -euo pipefail\n" + static_roots_check([str(root)]) + "echo CHECKED\n")
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=30)
    if prepare in FINE:
        assert result.returncode == 0 and "CHECKED" in result.stdout, result.stderr
    else:
        assert result.returncode == 1 and "CHECKED" not in result.stdout
        assert f"the static root {root}" in result.stderr
