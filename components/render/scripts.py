"""The fixed shell of stackyard's scripts: components/render/shell/*.sh, read as they are (shellcheck reads
the same files). Renderers put a header of quoted NAME=value lines before the pieces they choose."""

from __future__ import annotations

from pathlib import Path

SHELL = Path(__file__).parent / "shell"
HEADER = "#!/usr/bin/env bash\nset -euo pipefail\n"
"""Every script's first lines: bash, stopping at the first command that fails."""
APT_HEADER = HEADER + "export DEBIAN_FRONTEND=noninteractive\n"
"""The header of a provisioning step, which may install packages: apt never asks."""


def shell(name: str) -> str:
    """A fixed piece of shell, as it is in components/render/shell/<name>."""
    return (SHELL / name).read_text()
