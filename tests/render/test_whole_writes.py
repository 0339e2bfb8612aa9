"""Root writes each configuration file whole or not at all: into ``X.new``, then renamed over ``X``. A
step killed between the shell's truncating open and the last byte left a short ``X``; where a later run
asks only "is it there?" (an upstream, nginx's bootstrap site) that short file stayed, and an empty
upstream fails `nginx -t`, which stops every later proxy step and deploy on the host."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from test_render_tools import all_scripts

from components.model.host_layout import Paths
from components.render.provision import initial_upstreams

TEMPORARY = {'"$t"', '"$tmp"', '"$1.new"'}
"""Targets that are files of mktemp (renamed into place after), or a helper's own .new."""


def test_every_file_root_writes_through_a_heredoc_is_renamed_into_place() -> None:
    short = []
    for name, text in all_scripts().items():
        for target in re.findall(r"(?<![\w-])cat\s*>\s*(\S+)", text):
            if target not in TEMPORARY and not target.rstrip("'\"").endswith(".new"):
                short.append(f"{name}: cat > {target}")
    assert short == []


def run(script: str, cwd: Path) -> None:
    subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, check=True)


def test_a_file_a_killed_write_left_empty_or_half_made_is_written_again(tmp_path: Path) -> None:
    upstream, bootstrap = tmp_path / "app.nginx", tmp_path / "site.conf"
    content = {str(upstream): "upstream stackyard_app { server 127.0.0.1:4100; }\n",
               str(bootstrap): "server { listen 80; }\n"}
    upstream.write_text("")  # the shell's open truncated it, and the step was killed before cat wrote
    Path(f"{bootstrap}.new").write_text("server { li")  # killed mid-write of the .new: bootstrap never made
    run(initial_upstreams(content, {}, Paths(etc=str(tmp_path))), tmp_path)
    assert upstream.read_text() == content[str(upstream)]
    assert bootstrap.read_text() == content[str(bootstrap)]
    assert not Path(f"{bootstrap}.new").exists()


def test_a_file_already_there_is_left_as_it_is(tmp_path: Path) -> None:
    upstream = tmp_path / "app.nginx"
    upstream.write_text("upstream stackyard_app { server 127.0.0.1:4200; }\n")  # the deploy's switch made it
    run(initial_upstreams({str(upstream): "upstream stackyard_app { server 127.0.0.1:4100; }\n"}, {},
                          Paths(etc=str(tmp_path))), tmp_path)
    assert "4200" in upstream.read_text()
