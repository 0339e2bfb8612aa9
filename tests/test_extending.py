"""docs/extending.md, done as it says: a toy runtime added in a copy of the repository (its module, its
shell, its registration), and the production stack built with a service moved onto it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from harness import ROOT

TOY = '''"""A toy runtime: systemd's units under another name (tests/test_extending.py)."""

from __future__ import annotations

from .systemd import Systemd


class Toy(Systemd):
    name = "toy"
'''

BUILD = '''
import sys
sys.path[:0] = [".", "tests"]
from harness import canary_secrets, production_config, run_program
config = production_config()
config["stackyard:systems"]["material-kai"]["services"]["mivaa"]["runtime"] = "toy"
run = run_program(config, canary_secrets(config))
setup = str(run.named("material-kai-mivaa-setup-mivaa-setup").inputs)
print("# shell of the toy runtime" in setup and "RUNTIME=toy" in setup)
'''


def test_a_runtime_added_as_the_doc_says_runs_a_service_of_the_production_stack(tmp_path: Path) -> None:
    copy = tmp_path / "stackyard"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("venv", ".git", ".pulumi-state", "__pycache__"))
    runtimes = copy / "components/render/runtimes"
    # 1. its module
    (runtimes / "toy.py").write_text(TOY)
    # 2. its shell
    shell = copy / "components/render/shell"
    (shell / "runtime-toy.sh").write_text("# shell of the toy runtime\n" + (shell / "runtime-systemd.sh").read_text())
    # 3. its registration
    registry = runtimes / "__init__.py"
    text = registry.read_text()
    assert "(Systemd(), Pm2(), Compose())" in text, "the registration line moved: update docs/extending.md"
    text = text.replace("(Systemd(), Pm2(), Compose())", "(Systemd(), Pm2(), Compose(), Toy())")
    text = text.replace("from .systemd import Systemd\n", "from .systemd import Systemd\nfrom .toy import Toy\n")
    registry.write_text(text)

    done = subprocess.run([sys.executable, "-c", BUILD], cwd=copy, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "True"  # the service's deploy and watchdog scripts run under it
