"""cloud-init user data, checked by cloud-init's own schema validator."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from components.render.cloud_init import cloud_config

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHfwXy4HLgjllSvpYTrJg5bs+SS++I0fx8q7G3fw579w ops@stackyard.example"
CLOUD_INIT = shutil.which("cloud-init")
needs_cloud_init = pytest.mark.skipif(
    CLOUD_INIT is None, reason="cloud-init is not installed (`make deps` installs it: apt-get install cloud-init)")


@needs_cloud_init
@pytest.mark.parametrize("port", [22, 2222])
def test_cloud_config_passes_cloud_init_schema(tmp_path, port: int) -> None:
    path = tmp_path / "user-data"
    path.write_text(cloud_config("deploy", [KEY, KEY.replace("ops@", "ci@")], port))
    result = subprocess.run([CLOUD_INIT, "schema", "--config-file", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


@needs_cloud_init
def test_cloud_init_schema_check_rejects_a_broken_config(tmp_path) -> None:
    """The validator really validates: a wrong type in users is refused."""
    broken = yaml.safe_load(cloud_config("deploy", [KEY]).removeprefix("#cloud-config\n"))
    broken["users"][0]["lock_passwd"] = "maybe"
    path = tmp_path / "user-data"
    path.write_text("#cloud-config\n" + yaml.safe_dump(broken))
    result = subprocess.run([CLOUD_INIT, "schema", "--config-file", str(path)], capture_output=True, text=True)
    assert result.returncode != 0


def test_cloud_config_is_deterministic_and_needs_a_key() -> None:
    assert cloud_config("deploy", [KEY]) == cloud_config("deploy", [KEY])
    assert "write_files" not in cloud_config("deploy", [KEY])
    with pytest.raises(ValueError):
        cloud_config("deploy", [])
