"""The stand-ins' schema check (tests/standin/schema.py, tests/standin/conform.py) through their Check.

Every resource stackyard registers (the production stack and the kitchen-sink fixture, which between
them use every resource type a stand-in models) must fit the pinned provider schema; and a corpus
generated from those very inputs (each required property removed, a wrong-type value for every
property of each kind, an unexpected argument) must fail the stand-in's Check at the mutated path.
"""

from __future__ import annotations

import copy
import enum
import functools
from collections import Counter
from typing import Any

import grpc
import pulumi
import pytest
from helpers.harness import ROOT, canary_secrets, read_stack_file, run_program

from standin.clouds import NAMES, cloud_named
from standin.conform import child, conform
from standin.provider import StandInProvider, to_struct
from standin.schema import (
    Enumeration,
    ListOf,
    MapOf,
    Object,
    Scalar,
    Shape,
    object_shape,
    resource_schema,
    resource_tokens,
)
from standin.values import SECRET_SIG, UNKNOWN

STACKS = {"production": ROOT / "Pulumi.production.yaml",
          "kitchen-sink": ROOT / "tests/fixtures/stacks/kitchen-sink.yaml"}
SECRET = "1b47061264138c4ac30d75fd1eb44270"
MODELLED = sorted(token for name in NAMES for token in cloud_named(name).kinds)


@functools.cache
def registered(stack: str) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """(type, name, wire inputs) of every stand-in resource the stack registers under the mocks."""
    config = read_stack_file(STACKS[stack])
    run = run_program(config, canary_secrets(config))
    return tuple((r.type, r.name, r.wire) for r in run.resources
                 if r.type.split(":")[0] in NAMES and not r.type.startswith("pulumi:providers:"))


@functools.cache
def samples() -> dict[str, dict[str, Any]]:
    """One registered input per resource type: the richest (most properties) of its kind."""
    found: dict[str, dict[str, Any]] = {}
    for stack in STACKS:
        for token, _, wire in registered(stack):
            if len(wire) > len(found.get(token, {})):
                found[token] = wire
    return found


class Aborted(Exception):
    pass


class Context:
    """Enough of a gRPC servicer context for Check: an abort is an error of the test."""

    def abort(self, code: grpc.StatusCode, details: str):
        raise Aborted(f"{code}: {details}")


def check(token: str, inputs: dict[str, Any]) -> list[tuple[str, str]]:
    """The stand-in plugin's own Check, over its protobuf messages (numbers become floats, as from the engine)."""
    from pulumi.runtime.proto import provider_pb2

    provider = StandInProvider(cloud_named(token.split(":")[0]), None)
    request = provider_pb2.CheckRequest(urn=f"urn:pulumi:test::stackyard::{token}::sample", news=to_struct(inputs),
                                        olds=to_struct({}))
    return [(f.property, f.reason) for f in provider.Check(request, Context()).failures]


# --- the extractor reads the pinned SDKs ----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_extractor_reads_every_resource_of_each_pinned_sdk(name: str) -> None:
    cloud = cloud_named(name)
    tokens = resource_tokens(cloud.package)
    assert len(tokens) > 20, tokens
    for token in tokens:
        assert resource_schema(cloud.package, token).properties, token  # raises SchemaError on an unknown form
    assert set(cloud.kinds) <= set(tokens)


def test_the_schema_says_what_the_sdk_says() -> None:
    server = resource_schema("pulumi_hcloud", "hcloud:index/server:Server")
    assert server.required == ("serverType",)
    nets = server.properties["publicNets"].shape
    assert isinstance(nets, ListOf) and isinstance(nets.item, Object)
    assert nets.item.properties["ipv4Enabled"].shape == Scalar("boolean")
    assert server.properties["firewallIds"].shape == ListOf(Scalar("integer"))
    assert server.properties["labels"].shape == MapOf(Scalar("string"))
    assert server.properties["sshKeys"].python == "ssh_keys"
    droplet = resource_schema("pulumi_digitalocean", "digitalocean:index/droplet:Droplet")
    size = droplet.properties["size"].shape
    assert isinstance(size, Enumeration) and not size.closed and "s-1vcpu-1gb" in size.values
    env = resource_schema("pulumiverse_vercel", "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable")
    assert set(env.required) == {"projectId", "key", "sensitive"}
    record = resource_schema("pulumi_cloudflare", "cloudflare:index/dnsRecord:DnsRecord")
    assert set(record.required) == {"zoneId", "name", "type", "ttl"} and record.properties["ttl"].shape == Scalar(
        "number")


def test_hand_written_rules_name_only_schema_properties_and_do_not_repeat_its_required_ones() -> None:
    for token in MODELLED:
        cloud = cloud_named(token.split(":")[0])
        kind, schema = cloud.kinds[token], cloud.schema(token)
        assert set(kind.required) | set(kind.replace_on) <= set(schema.properties), token
        assert not set(kind.required) & set(schema.required), token


# --- what stackyard sends fits -------------------------------------------------------------------------


def test_every_resource_stackyard_registers_fits_the_pinned_schema() -> None:
    counts: Counter[str] = Counter()
    misfits = []
    for stack in STACKS:
        for token, name, wire in registered(stack):
            counts[token] += 1
            misfits += [(stack, name, failure) for failure in check(token, wire)]
    assert misfits == []
    assert sorted(counts) == MODELLED  # every modelled type is exercised
    assert sum(counts.values()) == 48 + 14, counts  # production 48, kitchen-sink 14


def _leaves(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict) and SECRET_SIG not in value:
        return [leaf for key, item in value.items() for leaf in _leaves(item, child(path, key))]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, child(path, i))]
    return [path]


@pytest.mark.parametrize("token", MODELLED)
def test_values_not_known_yet_and_secrets_fit_the_schema_anywhere(token: str, monkeypatch) -> None:
    # Only the schema: STACKYARD_STANDIN_CHECKS=off leaves the hand-written rules out of Check (some of
    # them judge a value not known yet as if it were one; see docs/testing.md's stand-in section).
    monkeypatch.setenv("STACKYARD_STANDIN_CHECKS", "off")
    sample = samples()[token]
    for path in _leaves(sample):
        assert check(token, replaced(sample, path, UNKNOWN)) == [], path
        original = value_at(sample, path)
        assert check(token, replaced(sample, path, {SECRET_SIG: SECRET, "value": original})) == [], path
    for key in sample:
        assert check(token, {**sample, key: UNKNOWN}) == [], key


# --- the mutation corpus -------------------------------------------------------------------------------


def _steps(path: str) -> list[str | int]:
    import re

    return [int(index) if index else (quoted if quoted else name)
            for name, quoted, index in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)|\["([^"]*)"\]|\[(\d+)\]', path)]


def value_at(value: Any, path: str) -> Any:
    for step in _steps(path):
        value = value[step]
    return value


def replaced(value: Any, path: str, new: Any) -> Any:
    out = copy.deepcopy(value)
    *parents, last = _steps(path)
    node = out
    for step in parents:
        node = node[step]
    node[last] = new
    return out


def removed(value: Any, path: str) -> Any:
    out = copy.deepcopy(value)
    *parents, last = _steps(path)
    node = out
    for step in parents:
        node = node[step]
    del node[last]
    return out


def wrong(shape: Shape) -> tuple[str, Any] | None:
    """A value of the wrong kind for a shape, and the kind it is; None where any value fits."""
    if isinstance(shape, Scalar):
        return {"string": ("string", 7), "integer": ("integer", "7"), "number": ("number", "7"),
                "boolean": ("boolean", "true")}[shape.kind]
    if isinstance(shape, Enumeration):
        return ("closed enum", "not-a-member") if shape.closed else ("open enum", 7)
    if isinstance(shape, ListOf):
        return "list", "not-a-list"
    if isinstance(shape, MapOf):
        return "map", ["not-a-map"]
    if isinstance(shape, Object):
        return "object", "not-an-object"
    return None


def mutations(token: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """(what, path, mutated inputs, reason fragment) for one resource type, from its sample and its schema:
    each required property removed and a wrong-type value for every property, at the top level and in every
    object the sample holds; an unexpected argument at each of those levels."""
    sample = samples()[token]
    corpus = []

    def walk(shape: Object, value: dict[str, Any], path: str) -> None:
        for wire in shape.required:
            if value.get(wire) is not None:
                corpus.append(("required", child(path, wire), removed(sample, child(path, wire)),
                               f"missing required property '{wire}'"))
        for wire, prop in shape.properties.items():
            where = child(path, wire)
            bad = wrong(prop.shape)
            if bad is not None:
                corpus.append((bad[0], where, replaced(sample, where, bad[1]), "expected"))
            item = value.get(wire)
            if isinstance(prop.shape, ListOf) and isinstance(item, list):
                for i, element in enumerate(item):
                    into(prop.shape.item, element, child(where, i))
            elif isinstance(prop.shape, MapOf) and isinstance(item, dict) and SECRET_SIG not in item:
                for key, element in item.items():
                    into(prop.shape.value, element, child(where, key))
            elif isinstance(prop.shape, Object) and isinstance(item, dict) and SECRET_SIG not in item:
                walk(prop.shape, item, where)
        corpus.append(("unexpected", child(path, "notAProperty"), replaced(sample, child(path, "notAProperty"), 1),
                       'an unexpected argument "notAProperty"'))

    def into(shape: Shape, element: Any, path: str) -> None:
        """An element of a list or a value of a map: an object is walked, anything else gets a wrong value."""
        if isinstance(shape, Object) and isinstance(element, dict) and SECRET_SIG not in element:
            walk(shape, element, path)
        elif element is not None and (bad := wrong(shape)) is not None:
            corpus.append((f"{bad[0]} element", path, replaced(sample, path, bad[1]), "expected"))

    walk(cloud_named(token.split(":")[0]).schema(token), sample, "")
    return corpus


@pytest.mark.parametrize("token", MODELLED)
def test_every_mutation_fails_the_check_at_its_path(token: str) -> None:
    corpus = mutations(token)
    missed = []
    for what, path, inputs, fragment in corpus:
        failures = check(token, inputs)
        if not any(p == path and fragment in reason for p, reason in failures):
            missed.append((what, path, failures))
    assert missed == []
    kinds = Counter(what for what, *_ in corpus)
    assert kinds["unexpected"] >= 1 and len(corpus) >= 4, kinds


def test_the_corpus_reaches_every_kind_of_property_and_every_required_one() -> None:
    kinds: Counter[str] = Counter()
    required = 0
    for token in MODELLED:
        corpus = mutations(token)
        kinds.update(what for what, *_ in corpus)
        schema = cloud_named(token.split(":")[0]).schema(token)
        removed_paths = {path for what, path, *_ in corpus if what == "required"}
        assert set(schema.required) <= removed_paths, token
        required += len(removed_paths)
    for kind in ("string", "integer", "number", "boolean", "open enum", "list", "map", "object", "unexpected",
                 "string element", "object"):
        assert kinds[kind] > 0, (kind, kinds)
    assert required >= 30, required


# --- what the pinned SDKs do not use today: a closed enum, and a secret's value kept out of reasons --------


class Protocol(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"


@pulumi.input_type
class RuleArgs:
    def __init__(__self__, *, protocol: pulumi.Input[Protocol], port: pulumi.Input[int] | None = None):
        pulumi.set(__self__, "protocol", protocol)
        if port is not None:
            pulumi.set(__self__, "port", port)

    @property
    @pulumi.getter
    def protocol(self) -> pulumi.Input[Protocol]:
        return pulumi.get(self, "protocol")

    @property
    @pulumi.getter(name="portNumber")
    def port(self) -> pulumi.Input[int] | None:
        return pulumi.get(self, "port")


def test_a_closed_enum_refuses_a_value_outside_it_without_showing_a_secret_one() -> None:
    shape = object_shape(RuleArgs)
    assert shape.properties["protocol"].shape == Enumeration("Protocol", ("tcp", "udp"), closed=True)
    assert shape.properties["portNumber"].required is False
    assert conform(shape, {"protocol": "tcp", "portNumber": 22.0}) == []
    assert conform(shape, {"protocol": "sctp"}) == [("protocol", "expected one of tcp, udp; got 'sctp'")]
    hidden = conform(shape, {"protocol": {SECRET_SIG: SECRET, "value": "hunter2"}})
    assert [p for p, _ in hidden] == ["protocol"] and "hunter2" not in str(hidden)
    assert conform(shape, {"portNumber": 22.5}) == [
        ("portNumber", "expected integer type, got a number with a fraction"),
        ("protocol", "missing required property 'protocol'")]
