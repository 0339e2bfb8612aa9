"""Whether inputs, as the engine sends them to a plugin, fit a schema shape (tests/standin/schema.py).

A real bridged plugin type-checks its inputs against its schema in Check and names each misfit by
its property path (``publicNets[0].ipv4Enabled``, ``labels["app.io/x"]``): an unexpected argument, a
value of the wrong type, a missing required property, a value outside a closed enum. This does the
same on the wire form the engine sends, where

- a value not known yet (at preview) fits anything: the real plugin cannot judge it either;
- a secret is judged by the value it holds, and its value never appears in a reason;
- a resource reference stands for its ID, a string;
- numbers arrive as floats: an integer is a float with no fraction.

The reasons follow the wording of the bridge's type checker ("expected array type, got string
type"), so a failure reads like the provider's own.
"""

from __future__ import annotations

import re
from typing import Any

from .schema import AnyValue, Enumeration, ListOf, MapOf, Object, OneOf, Scalar, Shape
from .values import SECRET_SIG, UNKNOWN

Failure = tuple[str, str]

SECRET = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_REFERENCE = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def conform(shape: Object, inputs: dict[str, Any]) -> list[Failure]:
    """Every misfit of a resource's inputs against its input object, as (property path, reason)."""
    return _object(shape, {k: v for k, v in inputs.items() if not k.startswith("__")}, "", False)


def child(path: str, key: str | int) -> str:
    """A Pulumi property path one step down: ``a.b``, ``a[0]``, ``a["b.c"]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if IDENTIFIER.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'


def _unwrap(value: Any, secret: bool) -> tuple[Any, bool, bool]:
    """The value under any envelope, whether it is secret, and whether it is known."""
    while isinstance(value, dict) and SECRET_SIG in value:
        sig = value[SECRET_SIG]
        if sig == SECRET:
            value, secret = value.get("value"), True
        elif sig == RESOURCE_REFERENCE:
            value = value.get("id", UNKNOWN) if value.get("id", "") != "" else UNKNOWN
        elif sig == OUTPUT_VALUE:
            secret = secret or bool(value.get("secret"))
            if "value" not in value:
                return None, secret, False
            value = value["value"]
        else:  # an asset or an archive: opaque to a schema of plain values
            return value, secret, False
    return value, secret, value != UNKNOWN


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _fits(shape: Shape, value: Any, path: str, secret: bool) -> list[Failure]:
    value, secret, known = _unwrap(value, secret)
    if not known or isinstance(shape, AnyValue):
        return []
    if isinstance(shape, Scalar):
        return _scalar(shape.kind, value, path)
    if isinstance(shape, Enumeration):
        failures = _scalar(shape.kind, value, path)
        if not failures and shape.closed and value not in shape.values:
            shown = "" if secret else f"; got {value!r}"
            failures = [(path, f"expected one of {', '.join(map(str, shape.values))}{shown}")]
        return failures
    if isinstance(shape, ListOf):
        if not isinstance(value, list):
            return [(path, f"expected array type, got {_kind(value)} type")]
        return [f for i, item in enumerate(value) for f in _fits(shape.item, item, child(path, i), secret)]
    if isinstance(shape, MapOf):
        if not isinstance(value, dict):
            return [(path, f"expected object type, got {_kind(value)} type")]
        return [f for key, item in value.items() for f in _fits(shape.value, item, child(path, key), secret)]
    if isinstance(shape, Object):
        if not isinstance(value, dict):
            return [(path, f"expected object type, got {_kind(value)} type")]
        return _object(shape, value, path, secret)
    if isinstance(shape, OneOf):
        tries = [_fits(option, value, path, secret) for option in shape.options]
        return [] if any(not t for t in tries) else min(tries, key=len)
    raise TypeError(f"unknown shape {shape!r}")


def _scalar(kind: str, value: Any, path: str) -> list[Failure]:
    got = _kind(value)
    if kind == "integer":
        ok = got == "number" and float(value).is_integer()
        if got == "number" and not ok:
            return [(path, "expected integer type, got a number with a fraction")]
    else:
        ok = got == kind
    return [] if ok else [(path, f"expected {kind} type, got {got} type")]


def _object(shape: Object, value: dict[str, Any], path: str, secret: bool) -> list[Failure]:
    failures = []
    for key, item in value.items():
        prop = shape.properties.get(key)
        if prop is None:
            failures.append((child(path, key), f'an unexpected argument "{key}" was provided'))
        elif item is not None:
            failures += _fits(prop.shape, item, child(path, key), secret)
    for key in shape.required:
        if value.get(key) is None:
            failures.append((child(path, key), f"missing required property '{key}'"))
    return failures
