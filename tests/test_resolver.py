"""The Resolver never changes once a component holds it: each build phase makes the next one's. It was
filled in while components were built, so what a value resolved to depended on construction order."""

from __future__ import annotations

import dataclasses

import pytest

from components.model import HostRef, RecordRef
from components.values import Resolver


def test_a_phase_s_resolver_is_never_changed_by_the_next_phase() -> None:
    first = Resolver(secret=lambda name: name)  # type: ignore[arg-type, return-value]
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.records = {"api.example.com": "api.example.com"}  # type: ignore[misc]
    later = first.knowing(records={"api.example.com": "api.example.com"})
    assert later.resolve(RecordRef(record="api.example.com")) is not None
    with pytest.raises(KeyError):
        first.resolve(RecordRef(record="api.example.com"))  # what the first phase's components hold
    with pytest.raises(KeyError):
        later.resolve(HostRef(host="box"))


def test_accessories_are_added_host_by_host() -> None:
    one = Resolver().knowing(accessories={"a": {"redis": "x"}})
    both = one.knowing(accessories={"b": {"mysql": "y"}})
    assert set(both.accessories) == {"a", "b"} and set(one.accessories) == {"a"}
