"""A small typed reader from plain YAML/JSON data into frozen dataclasses.

Every problem is recorded against its config path (``systems.mehko.dns.records[2].host``)
and reading goes on, so one run reports every mistake in a stack file at once. Keys in
the stack file are the camelCase form of the dataclass field names (``server_type`` is
``serverType``).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from .kinds import Kind

YAML_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} [A-Za-z0-9+-]{1,6}")
"""How the Pulumi CLI (Go's YAML) hands over an unquoted date or time: as Go's time.Time text, its zone a
name (UTC, ChST), or the offset again ("2024-01-02 03:04:05 +0200 +0200"), or the machine's own zone's
abbreviation where the offset is its own, which may be numeric (+04 in Dubai)."""

Check = Callable[[Any], "str | None"]


def spec(doc: str, *, default: Any = dataclasses.MISSING, kind: Kind | None = None, keys: Kind | None = None,
         check: Check | None = None) -> Any:
    """A documented field. ``kind`` is what each of its strings is (components/model/kinds.py), ``keys``
    what the keys of its mappings are; the reader checks both. ``check`` returns an error message for a
    bad value, or None: a rule beyond the kind."""
    kwargs: dict[str, Any] = {"metadata": {"doc": doc, "kind": kind, "keys": keys, "check": check}}
    if isinstance(default, (list, tuple)):
        kwargs["default_factory"] = (lambda v: lambda: tuple(v))(default)
    elif isinstance(default, dict):
        kwargs["default_factory"] = (lambda v: lambda: dict(v))(default)
    elif default is not dataclasses.MISSING:
        kwargs["default"] = default
    return dataclasses.field(**kwargs)


@dataclass(frozen=True)
class Tagged:
    """Marks a union of dataclasses chosen by the value of one key (``provider: hetzner``)."""

    key: str
    variants: Mapping[str, type]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{kind} ({shown})" if not isinstance(value, (list, dict)) else kind


class Reader:
    """Reads raw data into typed values, collecting ``(path, message)`` problems."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def read(self, tp: Any, raw: Any, path: str) -> Any:
        """Returns the typed value, or None after recording why it could not be read."""
        origin = get_origin(tp)
        if origin is typing.Annotated:
            base, *extras = get_args(tp)
            tagged = next((e for e in extras if isinstance(e, Tagged)), None)
            if tagged is not None:
                return self._read_tagged(tagged, raw, path)
            return self.read(base, raw, path)
        if origin in (Union, types.UnionType):
            return self._read_union(get_args(tp), raw, path)
        if origin is Literal:
            choices = get_args(tp)
            if raw in choices:
                return raw
            self.fail(path, f"expected one of {', '.join(map(str, choices))}; got {describe(raw)}")
            return None
        if origin is list:
            if not isinstance(raw, list):
                self.fail(path, f"expected a list; got {describe(raw)}")
                return None
            (item_tp,) = get_args(tp)
            items = [self.read(item_tp, item, join(path, i)) for i, item in enumerate(raw)]
            return tuple(items)
        if origin is dict:
            if not isinstance(raw, dict):
                self.fail(path, f"expected a mapping; got {describe(raw)}")
                return None
            key_tp, value_tp = get_args(tp)
            allowed = get_args(key_tp) if get_origin(key_tp) is Literal else None
            out = {}
            for key, value in raw.items():
                if not isinstance(key, str):
                    self.fail(join(path, str(key)), f"keys must be strings; got {describe(key)}")
                    continue
                if allowed is not None and key not in allowed:
                    self.fail(join(path, key), f"unknown key; expected one of {', '.join(allowed)}")
                    continue
                out[key] = self.read(value_tp, value, join(path, key))
            return out
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self._read_dataclass(tp, raw, path)
        if tp is bool:
            if isinstance(raw, bool):
                return raw
            self.fail(path, f"expected true or false; got {describe(raw)}")
            return None
        if tp is int:
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
            self.fail(path, f"expected a whole number; got {describe(raw)}")
            return None
        if tp is str:
            if isinstance(raw, str):
                # Plain text fields too (a TXT record, a description): what the CLI handed over is not what
                # was written, here as in a value.
                return self._read_text(raw, path)
            self.fail(path, f"expected a string; got {describe(raw)}")
            return None
        raise TypeError(f"stackyard model: unsupported field type {tp!r}")

    def _read_text(self, raw: str | int | float | bool, path: str) -> str | None:
        """A value is text, and reaches the service as written. YAML reads some unquoted values as
        something else, and the CLI hands the program that, not what was written: 0644 as 420, 0x1F as
        31, 1_000 as 1000, 1.10 as 1.1, True as true, a date as "2024-01-02 00:00:00 +0000 UTC". None
        can be undone, so they are refused: quoted, each is the text it reads as."""
        if isinstance(raw, str):
            if YAML_TIMESTAMP.fullmatch(raw):
                self.fail(path, f"YAML read a date here and wrote it as {raw!r}: quote the value")
                return None
            return raw
        kind = "true or false" if isinstance(raw, bool) else f"the number {raw!r}"
        self.fail(path, f"YAML reads this as {kind}, not as the text written (0644 reads as 420, True as "
                        "true): quote it")
        return None

    def _read_union(self, options: tuple[Any, ...], raw: Any, path: str) -> Any:
        if raw is None and type(None) in options:
            return None
        options = tuple(o for o in options if o is not type(None))
        if len(options) == 1:
            return self.read(options[0], raw, path)
        # Scalars first, then mappings: a plain string never needs the ref forms.
        scalars = [o for o in options if o in (str, int, bool)]
        refs = [o for o in options if isinstance(o, type) and dataclasses.is_dataclass(o)]
        if scalars and isinstance(raw, (str, int, float, bool)):
            if str in scalars:
                return self._read_text(raw, path)
            return self.read(scalars[0], raw, path)
        if refs and isinstance(raw, dict):
            for ref in refs:
                first = dataclasses.fields(ref)[0]
                if camel(first.name) in raw:
                    return self._read_dataclass(ref, raw, path)
            forms = " or ".join(f"{{{camel(dataclasses.fields(r)[0].name)}: ...}}" for r in refs)
            self.fail(path, f"expected a string or one of {forms}; got keys {', '.join(map(str, raw))}")
            return None
        wanted = ["a string"] if scalars else []
        wanted += [f"{{{camel(dataclasses.fields(r)[0].name)}: ...}}" for r in refs]
        self.fail(path, f"expected {' or '.join(wanted)}; got {describe(raw)}")
        return None

    def _read_tagged(self, tagged: Tagged, raw: Any, path: str) -> Any:
        if not isinstance(raw, dict):
            self.fail(path, f"expected a mapping; got {describe(raw)}")
            return None
        tag = raw.get(tagged.key)
        if not isinstance(tag, str) or tag not in tagged.variants:
            choices = ", ".join(tagged.variants)
            self.fail(join(path, tagged.key), f"expected one of {choices}; got {describe(tag)}")
            return None
        return self._read_dataclass(tagged.variants[tag], raw, path)

    def _read_dataclass(self, cls: type, raw: Any, path: str) -> Any:
        if not isinstance(raw, dict):
            if cls.__name__ == "SecretRef" and isinstance(raw, str):
                # A secret-only field given a string: most likely the secret itself, pasted in. It is not
                # shown again (the message reaches CI logs).
                self.fail(path, "expected {secret: <name>}, a stackyard config key set with `pulumi config set "
                                "--secret`; got a string, not shown (if it is a secret, it is in the stack file's "
                                "history now: change it)")
                return None
            self.fail(path, f"expected a mapping; got {describe(raw)}")
            return None
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = {camel(f.name): f for f in dataclasses.fields(cls) if f.init}
        for key in raw:
            if key not in fields:
                hint = difflib.get_close_matches(str(key), list(fields), n=1)
                known = f"did you mean '{hint[0]}'?" if hint else f"known keys: {', '.join(fields)}"
                self.fail(join(path, str(key)), f"unknown key; {known}")
        values: dict[str, Any] = {}
        for key, f in fields.items():
            fpath = join(path, key)
            if key not in raw:
                if required(f):
                    self.fail(fpath, f"required: {f.metadata.get('doc', key)}")
                    values[f.name] = None
                continue
            value = self.read(hints[f.name], raw[key], fpath)
            kind, keys = f.metadata.get("kind"), f.metadata.get("keys")
            if value is not None and (kind is not None or keys is not None):
                for item_path, text, is_key in _strings(hints[f.name], value, fpath):
                    check_text = keys if is_key else kind
                    message = check_text(text) if check_text else None
                    if message:
                        self.fail(item_path, message)
            check = f.metadata.get("check")
            if value is not None and check is not None:
                for item_path, item in _each(value, fpath):
                    message = check(item)
                    if message:
                        self.fail(item_path, message)
            if value is None and not _optional(hints[f.name]) and not required(f):
                # The problem is recorded already; the rules that run next see the default, not a None
                # where the type promises none.
                if f.default is not dataclasses.MISSING:
                    value = f.default
                elif f.default_factory is not dataclasses.MISSING:  # not required: it has one or the other
                    value = f.default_factory()
            values[f.name] = value
        return cls(**values)


def required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _optional(tp: Any) -> bool:
    """Whether ``tp`` admits None (``X | None``)."""
    if get_origin(tp) is typing.Annotated:
        return _optional(get_args(tp)[0])
    return get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp)


def _strings(tp: Any, value: Any, path: str):
    """``(path, text, is_key)`` for every string of a read value of type ``tp``: list items, mapping values
    and free mapping keys (a key a Literal type restricts is checked already), at any depth. The string
    forms of a Value are strings too; its reference forms (dataclasses) are not."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        yield from _strings(get_args(tp)[0], value, path)
    elif isinstance(value, str):
        if tp is str or str in get_args(tp):
            yield path, value, False
    elif origin in (Union, types.UnionType):
        for option in get_args(tp):
            if get_origin(option) in (list, dict) or option is str:
                yield from _strings(option, value, path)
    elif origin is list and isinstance(value, tuple):
        (item_tp,) = get_args(tp)
        for i, item in enumerate(value):
            if item is not None:
                yield from _strings(item_tp, item, join(path, i))
    elif origin is dict and isinstance(value, dict):
        key_tp, value_tp = get_args(tp)
        for key, item in value.items():
            if key_tp is str:
                yield join(path, key), key, True
            if item is not None:
                yield from _strings(value_tp, item, join(path, key))


def _each(value: Any, path: str):
    """Checks on list and mapping fields apply to each item, so errors name the item's index or key."""
    if isinstance(value, tuple):
        for i, item in enumerate(value):
            if item is not None:
                yield join(path, i), item
    elif isinstance(value, dict):
        for key, item in value.items():
            if item is not None:
                yield join(path, key), item
    else:
        yield path, value


def documented_fields(cls: type) -> list[tuple[str, str]]:
    """``(key, doc)`` for each field of a model class: the reference table in the README."""
    return [(camel(f.name), f.metadata.get("doc", "")) for f in dataclasses.fields(cls)]
