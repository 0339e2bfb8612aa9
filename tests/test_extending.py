"""docs/extending.md, done as it says: a toy runtime and a toy cloud added in a copy of the repository
(their modules, their registrations), and the production stack built with a service, then a host, moved
onto them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers.harness import ROOT

TOY = '''"""A toy runtime: systemd's units under another name (tests/test_extending.py)."""

from __future__ import annotations

from .systemd import Systemd


class Toy(Systemd):
    name = "toy"
'''

BUILD = '''
import sys
sys.path[:0] = [".", "tests"]
from helpers.harness import canary_secrets, production_config, run_program
config = production_config()
config["stackyard:systems"]["material-kai"]["services"]["mivaa"]["runtime"] = "toy"
run = run_program(config, canary_secrets(config))
setup = str(run.named("material-kai-mivaa-setup-mivaa-setup").inputs)
print("# shell of the toy runtime" in setup and "RUNTIME=toy" in setup)
'''


def register(registry: Path, entries: str, last_import: str) -> None:
    """The registration line as the doc says: Toy() added to ``entries``, imported after ``last_import``."""
    text = registry.read_text()
    assert entries in text and last_import in text, "the registration line moved: update docs/extending.md"
    text = text.replace(entries, entries[:-1] + ", Toy())").replace(last_import, last_import + "from .toy import Toy\n")
    registry.write_text(text)


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
    register(runtimes / "__init__.py", "(Systemd(), Pm2(), Compose())", "from .systemd import Systemd\n")

    done = subprocess.run([sys.executable, "-c", BUILD], cwd=copy, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "True"  # the service's deploy and watchdog scripts run under it


TOY_HOST = '''

@dataclass(frozen=True, kw_only=True)
class ToyHost(ExistingHost):
    """A toy kind of host: an existing server under another name (tests/test_extending.py)."""

    provider: Literal["toy"] = spec("toy")

    def summary(self) -> str:
        return f"toy server {self.address}"
'''

TOY_CLOUD = '''"""A toy cloud: an existing server under another name (tests/test_extending.py)."""

from __future__ import annotations

from .existing import Existing


class Toy(Existing):
    provider = "toy"
    dial_error_limit = 7
'''

BUILD_HOST = '''
import sys
sys.path[:0] = [".", "tests"]
from helpers.harness import canary_secrets, production_config, run_program
config = production_config()
hosts = config["stackyard:systems"]["mehko"]["hosts"]
hosts["api"] = {"provider": "toy", "address": "203.0.113.7",
                **{k: v for k, v in hosts["api"].items()
                   if k not in ("provider", "serverType", "location", "image", "primaryIp", "adopt", "sshKeys",
                                "deployUser", "ipv6", "snapshots")}}
run = run_program(config, canary_secrets(config))
step = run.named("mehko-api-setup-base")
print(step.inputs["connection"]["host"] == "203.0.113.7", step.inputs["connection"]["dialErrorLimit"] == 7,
      not run.of_type("hcloud:index/server:Server"))
'''


def test_a_cloud_added_as_the_doc_says_takes_a_host_of_the_production_stack(tmp_path: Path) -> None:
    copy = tmp_path / "stackyard"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("venv", ".git", ".pulumi-state", "__pycache__"))
    # 1. its fields, registered in HOST_KINDS
    topology = copy / "components/model/topology.py"
    text = topology.read_text()
    registration = '"existing": ExistingHost}'
    assert registration in text, "the HOST_KINDS line moved: update docs/extending.md"
    marker = "HOST_KINDS: dict"
    text = text.replace(marker, TOY_HOST.lstrip("\n") + "\n\n" + marker, 1)
    text = text.replace(registration, '"existing": ExistingHost, "toy": ToyHost}')
    topology.write_text(text)
    # 2. its module
    (copy / "components/clouds/toy.py").write_text(TOY_CLOUD)
    # 3. its registration
    register(copy / "components/clouds/__init__.py", "(Hetzner(), DigitalOcean(), Existing())",
             "from .hetzner import Hetzner\n")

    done = subprocess.run([sys.executable, "-c", BUILD_HOST], cwd=copy, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "STACKYARD_CHECK_HOST_KEYS": "off"})

    assert done.returncode == 0, done.stderr[-3000:]
    # the host's steps connect as the toy cloud says, and no Hetzner server is made for it
    assert done.stdout.split()[-3:] == ["True", "True", "True"], done.stdout[-2000:]
