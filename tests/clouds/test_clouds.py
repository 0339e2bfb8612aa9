"""The kinds of host: one Cloud module each, chosen by one lookup that never guesses."""

from __future__ import annotations

import pytest

from components.clouds import CLOUDS, cloud_of
from components.model.topology import HOST_KINDS, CreatedHost


def test_every_kind_of_host_the_model_reads_has_its_cloud_module_and_no_other() -> None:
    assert set(CLOUDS) == set(HOST_KINDS)
    for provider, model in HOST_KINDS.items():
        # a model class of a server stackyard makes goes with a cloud that makes servers, and the reverse
        assert CLOUDS[provider].creates_servers == issubclass(model, CreatedHost), provider


def test_an_unknown_provider_is_an_error_naming_the_known_ones_never_a_fallback() -> None:
    # before: ssh_keys.py and system.py took any cloud that was not Hetzner for DigitalOcean
    with pytest.raises(ValueError, match=r"'vultr'.*digitalocean, existing, hetzner"):
        cloud_of("vultr")


def test_a_cloud_with_no_account_makes_no_resources_of_its_own() -> None:
    existing = cloud_of("existing")
    assert existing.credential is None and not existing.creates_servers
    for method, args in (("ssh_key", ("n", "k", "ssh-ed25519 AAAA", None)), ("key_reference", (None,)),
                         ("provider_resource", ("n", "t", None))):
        with pytest.raises(NotImplementedError, match="existing"):
            getattr(existing, method)(*args)
