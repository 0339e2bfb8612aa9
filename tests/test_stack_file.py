"""components/stack_file.py: every way a stack file can be wrong is one message, its name first, and the
commands that read one (`make preview`, `make up`, `make diagram`) print it with no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.harness import ROOT

from components.stack_file import StackFileError, read

LOCAL = (ROOT / "Pulumi.local.yaml").read_text()


@pytest.mark.parametrize("text, message", [
    (LOCAL.replace("runtime: systemd", "runtime: sytemd", 1),
     "Pulumi.broken.yaml: the stack config has 1 problem:\n  systems.local.services."),
    ("config:\n  a: [\n", "Pulumi.broken.yaml is not YAML: "),
    ("- a list\n", "Pulumi.broken.yaml: not a stack file"),
    ("config: [a, list]\n", "Pulumi.broken.yaml: not a stack file"),
])
def test_each_way_a_stack_file_is_wrong_is_one_message_naming_it(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text(text)
    with pytest.raises(StackFileError) as raised:
        read(path)
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_missing_file_and_an_empty_config_section(tmp_path: Path) -> None:
    with pytest.raises(StackFileError, match=r"^Pulumi\.nowhere\.yaml: No such file or directory$"):
        read(tmp_path / "Pulumi.nowhere.yaml")
    # An empty config: section is a stack file with nothing in it, not a file of another shape.
    (tmp_path / "Pulumi.empty.yaml").write_text("config:\n")
    with pytest.raises(StackFileError, match=r"^Pulumi\.empty\.yaml: the stack config has 1 problem:\n  systems: "):
        read(tmp_path / "Pulumi.empty.yaml")


@pytest.mark.parametrize("module, argv", [("components.stack_file", ["Pulumi.nowhere.yaml"]),
                                          ("components.diagram", ["nowhere"])])
def test_the_commands_print_the_message_alone(module: str, argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", module, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr == "Pulumi.nowhere.yaml: No such file or directory\n"
