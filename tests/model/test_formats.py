"""components/model/formats.py: values a kind accepts are those its targets read as that value."""

from __future__ import annotations

import pytest

from components.model import formats


@pytest.mark.parametrize("email, ok", [("ops@example.org", True), ("a.b+c%d_e-f@mail.example.org", True),
                                       ("-ops@example.org", False), ("--help@example.org", False),
                                       ("ops@", False), ("ops example@example.org", False)])
def test_an_email_is_one_certbot_reads_as_the_value_of_email(email: str, ok: bool) -> None:
    """certbot parses `--email VALUE` with argparse, which takes a VALUE starting with "-" for an option:
    the certificate step then failed, every up, with advice about DNS."""
    assert (formats.email(email) is None) == ok


@pytest.mark.parametrize("key, ok", [("API_KEY", True), ("_private", True), ("constructor", True),
                                     ("__proto__", False), ("1X", False), ("A-B", False)])
def test_an_env_key_is_one_every_runtime_passes_on(key: str, ok: bool) -> None:
    """PM2's env is a JavaScript object: __proto__ there sets its prototype, and the variable is gone."""
    assert (formats.env_key(key) is None) == ok


def test_a_secret_pasted_where_only_a_secret_reference_goes_is_not_shown_again() -> None:
    """Round 39: the reader's "expected a mapping; got a string ('Hunter2-...')" put a pasted password into
    preview and CI output."""
    import copy

    from helpers.hostile import load, stack

    config = copy.deepcopy(stack("local"))
    password = "Hunter2-SuperSecretPw"
    config["stackyard:systems"]["local"]["hosts"]["box"]["access"]["privateKey"] = password
    error = load(config)
    assert error is not None and "systems.local.hosts.box.access.privateKey" in error.paths
    assert password not in str(error) and "Hunter2" not in str(error)
