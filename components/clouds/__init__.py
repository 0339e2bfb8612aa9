"""The kinds of host, one module each: the one place that chooses among them is ``cloud_of``."""

from __future__ import annotations

from .base import Cloud
from .digitalocean import DigitalOcean
from .existing import Existing
from .hetzner import Hetzner

CLOUDS: dict[str, Cloud] = {cloud.provider: cloud for cloud in (Hetzner(), DigitalOcean(), Existing())}
"""provider: -> its Cloud. The model's host classes answer to the same names."""


def cloud_of(provider: str) -> Cloud:
    """The Cloud of a host's ``provider:``. The model refuses any other name with its path, so an unknown
    one here is a program error, never a guess."""
    try:
        return CLOUDS[provider]
    except KeyError:
        raise ValueError(f"no cloud module for provider {provider!r} (known: {', '.join(sorted(CLOUDS))})") from None


__all__ = ["CLOUDS", "Cloud", "cloud_of"]
