"""Migration files are read at preview, wherever a pull request is previewed, and their text becomes a
resource input that `pulumi preview --diff` prints. Only the project's own regular files may be read."""

from __future__ import annotations

import os
from pathlib import Path

from components.model.migrations import read_migrations

SECRET = "PULUMI_CONFIG_PASSPHRASE=ci-passphrase"


def project(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "project"
    (root / "db").mkdir(parents=True)
    (root / "db" / "001_init.sql").write_text("create table t (id int);\n")
    outside = tmp_path / "ci-home"
    outside.mkdir()
    (outside / "environ").write_text(SECRET)
    return root, outside


def test_the_project_s_own_files_are_read(tmp_path: Path) -> None:
    root, _ = project(tmp_path)
    migrations, problems = read_migrations("db", root=root)
    assert problems == []
    assert [m.name for m in migrations] == ["001_init.sql"]


def test_a_migration_that_is_a_link_is_refused_and_not_read(tmp_path: Path) -> None:
    root, outside = project(tmp_path)
    (root / "db" / "002_more.sql").symlink_to(outside / "environ")
    migrations, problems = read_migrations("db", root=root)
    assert any("'002_more.sql' is a link" in p for p in problems), problems
    assert all(SECRET not in m.sql for m in migrations)


def test_a_link_to_a_link_inside_the_project_is_refused_too(tmp_path: Path) -> None:
    root, _ = project(tmp_path)
    (root / "other.sql").write_text("select 1;\n")
    (root / "db" / "002_more.sql").symlink_to(root / "other.sql")
    _, problems = read_migrations("db", root=root)
    assert any("'002_more.sql' is a link" in p for p in problems), problems


def test_a_directory_that_leads_out_of_the_project_is_refused(tmp_path: Path) -> None:
    root, outside = project(tmp_path)
    (outside / "001_x.sql").write_text(SECRET)
    (root / "elsewhere").symlink_to(outside)
    migrations, problems = read_migrations("elsewhere", root=root)
    assert migrations == []
    assert any("leads out of the project" in p for p in problems), problems
    _, problems = read_migrations("elsewhere/", root=root)
    assert any("leads out of the project" in p for p in problems), problems


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    root, _ = project(tmp_path)
    os.mkfifo(root / "db" / "002_pipe.sql")
    _, problems = read_migrations("db", root=root)  # reading it would block the preview for ever
    assert any("'002_pipe.sql' is not a regular file" in p for p in problems), problems


def test_a_file_that_is_not_utf8_or_a_directory_named_sql_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    root, _ = project(tmp_path)
    (root / "db" / "002_latin1.sql").write_bytes("-- café\n".encode("latin-1"))
    (root / "db" / "003_dir.sql").mkdir()
    _, problems = read_migrations("db", root=root)
    assert any("'002_latin1.sql' is not UTF-8" in p for p in problems), problems
    assert any("'003_dir.sql' is not a regular file" in p for p in problems), problems
