"""Each stand-in's input schema, read from the pinned provider SDK installed in the venv.

The real plugins check every input against their own schema before anything else, and refuse a
misspelt property, a string where a number belongs or a missing required argument with the
property's path. The stand-ins cannot ask the real plugin for that schema (it cannot be built
here), but the Python SDK pinned in requirements.txt is generated from exactly that schema, so the
schema is still there to read at test time:

- a resource type token names its class through the module table every SDK registers with
  ``pulumi.runtime`` on import (the ``classes`` of its ``_utilities.Module``s);
- the class's ``<Name>Args`` (an ``@pulumi.input_type``) lists its inputs: each property's getter
  carries the wire name (``pulumi.getter(name="publicNets")``) and its ``Input[...]`` annotation;
- a parameter of ``<Name>Args.__init__`` without a default is a required property (the SDK's
  ``_internal_init`` raises "Missing required property" for exactly those);
- nested ``...Args`` classes are the nested object shapes, ``Sequence``/``Mapping`` the lists and
  maps, ``Enum`` subclasses (``_enums.py``) the enum values.

Nothing is copied from the providers: the shapes are built from whatever SDK version is installed,
so bumping a pin bumps the schema the stand-ins enforce.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import importlib
import inspect
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

import pulumi
from pulumi import _types as pulumi_types


class SchemaError(Exception):
    """An annotation the extractor does not understand: better to stop than to check nothing."""


# --- the shapes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    """A string, integer, number or boolean."""

    kind: str


@dataclass(frozen=True)
class Enumeration:
    """A property typed by an SDK enum. ``closed`` when the SDK admits only the enum (a strict enum);
    an open one (``Union[str, SomeEnum]``) takes any string, its values being only the known ones."""

    name: str
    values: tuple[Any, ...]
    closed: bool
    kind: str = "string"


@dataclass(frozen=True)
class ListOf:
    item: Shape


@dataclass(frozen=True)
class MapOf:
    value: Shape


@dataclass(frozen=True)
class AnyValue:
    """``Any`` in the SDK: the schema says nothing (a JSON blob, a free-form value)."""


@dataclass(frozen=True)
class OneOf:
    """A union of several shapes (``Union[int, str]``): a value passes if it fits one."""

    options: tuple[Shape, ...]


@dataclass(frozen=True)
class Property:
    wire: str
    """The name on the wire, camelCase, as the engine and the plugin see it."""
    python: str
    shape: Shape
    required: bool


@dataclass(frozen=True)
class Object:
    """An object with named properties: a resource's inputs, or a nested ``...Args`` type."""

    name: str
    properties: dict[str, Property] = field(hash=False, compare=False)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.wire for p in self.properties.values() if p.required)


Shape = Scalar | Enumeration | ListOf | MapOf | AnyValue | OneOf | Object

LOCALS = {"Output": pulumi.Output, "T": type(None)}
"""Names pulumi.Input's own annotation leaves as forward references (as pulumi's _types resolves them)."""

SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


# --- reading the SDK ------------------------------------------------------------------------------


def resource_class(package: str, token: str) -> type:
    """The SDK class for a resource type token, through the module table the SDK registers on import."""
    importlib.import_module(package)
    pkg, mod, _ = token.split(":")
    module = pulumi.runtime.rpc.get_resource_module(pkg, mod, "")
    classes = getattr(module, "mod_info", {}).get("classes", {})
    if token not in classes:
        raise SchemaError(f"{package} registers no resource {token}")
    return getattr(importlib.import_module(module.mod_info["fqn"]), classes[token])


def resource_tokens(package: str) -> list[str]:
    """Every resource type the SDK registers: for checking that the extractor reads all of them."""
    importlib.import_module(package)
    pkg = package.split("_", 1)[1]
    tokens = []
    for key, modules in pulumi.runtime.rpc._RESOURCE_MODULES.items():
        if key.split(":", 1)[0] != pkg:
            continue
        for module in modules:
            info = getattr(module, "mod_info", {})
            if info.get("fqn", "").split(".")[0] == package:
                tokens += list(info.get("classes", {}))
    return sorted(tokens)


@functools.cache
def resource_schema(package: str, token: str) -> Object:
    """The input object of a resource: its ``<Name>Args`` read as a shape."""
    cls = resource_class(package, token)
    module = importlib.import_module(cls.__module__)
    # The generator names it <Name>InitArgs where a nested type already took <Name>Args.
    for name in (f"{cls.__name__}InitArgs", f"{cls.__name__}Args"):
        args = getattr(module, name, None)
        if isinstance(args, type) and pulumi_types.is_input_type(args) and name in getattr(module, "__all__", ()):
            return object_shape(args)
    raise SchemaError(f"{cls.__module__}.{cls.__name__} has no {cls.__name__}Args input type")


@functools.cache
def object_shape(cls: type) -> Object:
    """An ``@pulumi.input_type`` class as an Object. Recursive types resolve lazily: a class already
    being read stands for itself through the cache once it is built (the SDKs have no such cycles in
    the types stackyard uses, and a cycle would show as RecursionError, not as a silent pass)."""
    names = pulumi_types.input_type_py_to_pulumi_names(cls)
    optional = {name for name, param in inspect.signature(cls.__init__).parameters.items()
                if param.default is not inspect.Parameter.empty}
    module = importlib.import_module(cls.__module__)
    properties: dict[str, Property] = {}
    for python, wire in names.items():
        getter = getattr(cls, python).fget
        try:
            hint = typing.get_type_hints(getter, globalns=vars(module), localns=LOCALS)["return"]
        except Exception as err:  # any failure to resolve is the extractor's to report, naming the property
            raise SchemaError(f"{cls.__qualname__}.{python}: cannot resolve its annotation ({err})") from err
        shape, nullable = shape_of(hint, f"{cls.__qualname__}.{python}")
        properties[wire] = Property(wire=wire, python=python, shape=shape,
                                    required=python not in optional and not nullable)
    return Object(name=cls.__name__, properties=properties)


def shape_of(hint: Any, where: str) -> tuple[Shape, bool]:
    """The shape an annotation admits, and whether it admits None (Optional)."""
    options, nullable = _members(hint)
    if not options:
        raise SchemaError(f"{where}: {hint!r} admits nothing but None")
    strings = [o for o in options if o is str]
    enums = [o for o in options if isinstance(o, type) and issubclass(o, enum.Enum)]
    if enums and len(enums) == 1 and len(options) - len(strings) == 1:
        (kind,) = enums
        return Enumeration(name=kind.__name__, values=tuple(member.value for member in kind),
                           closed=not strings, kind=_enum_kind(kind)), nullable
    shapes = tuple(dict.fromkeys(_single(o, where) for o in options))
    return (shapes[0] if len(shapes) == 1 else OneOf(shapes)), nullable


def _members(hint: Any) -> tuple[list[Any], bool]:
    """The types a hint admits once Input[...] (T | Awaitable[T] | Output[T]) and Optional are peeled."""
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        found: list[Any] = []
        nullable = False
        for arg in typing.get_args(hint):
            inner, none = _members(arg)
            nullable = nullable or none
            found += [t for t in inner if t not in found]
        return found, nullable
    if hint is type(None):
        return [], True
    if origin is collections.abc.Awaitable or (isinstance(hint, type) and issubclass(hint, pulumi.Output)) or \
            origin is pulumi.Output or (isinstance(origin, type) and issubclass(origin, pulumi.Output)):
        return [], False
    return [hint], False


def _single(hint: Any, where: str) -> Shape:
    origin = typing.get_origin(hint)
    if hint is Any or hint is object:
        return AnyValue()
    if hint in SCALARS:
        return Scalar(SCALARS[hint])
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return Enumeration(name=hint.__name__, values=tuple(m.value for m in hint), closed=True,
                           kind=_enum_kind(hint))
    if origin in (collections.abc.Sequence, list, collections.abc.MutableSequence):
        (item,) = typing.get_args(hint) or (Any,)
        return ListOf(shape_of(item, f"{where}[]")[0])
    if origin in (collections.abc.Mapping, dict, collections.abc.MutableMapping):
        key, value = typing.get_args(hint) or (str, Any)
        if key is not str:
            raise SchemaError(f"{where}: map keyed by {key!r}, not str")
        return MapOf(shape_of(value, f"{where}{{}}")[0])
    if isinstance(hint, type) and pulumi_types.is_input_type(hint):
        return object_shape(hint)
    if isinstance(hint, type) and issubclass(hint, (pulumi.Asset, pulumi.Archive)):
        return AnyValue()
    raise SchemaError(f"{where}: the extractor does not know {hint!r}")


def _enum_kind(kind: type) -> str:
    if issubclass(kind, str):
        return "string"
    if issubclass(kind, bool):
        return "boolean"
    if issubclass(kind, int):
        return "integer"
    return "number"
