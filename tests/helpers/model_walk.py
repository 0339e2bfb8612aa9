"""The model's string fields, and every string a stack file holds, as the hostile-value tests walk them.

``string_fields()`` lists each field of the model that holds strings (values, list items, mapping keys);
``string_slots(config)`` finds every string of a stack file's ``stackyard:systems`` and top-level keys,
with its config path, the model field it belongs to and the kind that field declares.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from components.model import topology
from components.model.kinds import Kind
from components.model.parse import Tagged, camel, join


@dataclass(frozen=True)
class Slot:
    """One string of a stack file: a value, or a mapping key."""

    path: tuple[str | int, ...]
    """Keys and indices from the config's root to the string (or to the mapping holding the key)."""
    is_key: bool
    field: str
    """``Class.field`` of the model."""
    kind: Kind | None

    @property
    def config_path(self) -> str:
        out = ""
        for part in self.path[1:] if self.path and self.path[0] != "stackyard:systems" else self.path:
            out = join(out, part)
        if self.path and self.path[0] == "stackyard:systems":
            out = join("systems", "") if not out else "systems." + out
        return out


def _holds_strings(tp: Any) -> tuple[bool, bool]:
    """(holds string values, has free string keys) for a field's type."""
    origin = get_origin(tp)
    if tp is str:
        return True, False
    if origin is typing.Annotated:
        return _holds_strings(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        values = keys = False
        for option in get_args(tp):
            if dataclasses.is_dataclass(option):
                continue
            v, k = _holds_strings(option)
            values, keys = values or v, keys or k
        return values, keys
    if origin is list:
        return _holds_strings(get_args(tp)[0])
    if origin is dict:
        key_tp, value_tp = get_args(tp)
        values, keys = _holds_strings(value_tp)
        return values, keys or key_tp is str
    return False, False


def model_classes() -> list[type]:
    found: list[type] = []

    def visit(tp: Any) -> None:
        if dataclasses.is_dataclass(tp):
            if tp in found:
                return
            found.append(tp)
            hints = typing.get_type_hints(tp, include_extras=True)
            for f in dataclasses.fields(tp):
                visit(hints[f.name])
            return
        for arg in get_args(tp):
            if isinstance(arg, Tagged):
                for variant in arg.variants.values():
                    visit(variant)
            elif not isinstance(arg, str):
                visit(arg)

    visit(topology.Settings)
    return found


def string_fields() -> Iterator[tuple[str, bool, bool, dataclasses.Field]]:
    """``(Class.field, holds string values, has free string keys, field)`` for every string-holding field."""
    for cls in model_classes():
        hints = typing.get_type_hints(cls, include_extras=True)
        for f in dataclasses.fields(cls):
            values, keys = _holds_strings(hints[f.name])
            if values or keys:
                yield f"{cls.__name__}.{f.name}", values, keys, f


def string_slots(config: dict[str, Any]) -> list[Slot]:
    """Every string in the ``stackyard:`` keys of a stack file's config, walked along the model."""
    slots: list[Slot] = []
    hints = typing.get_type_hints(topology.Settings, include_extras=True)
    for f in dataclasses.fields(topology.Settings):
        key = f"stackyard:{camel(f.name)}"
        if key in config:
            _walk(hints[f.name], config[key], (key,), f"Settings.{f.name}", f, slots)
    return slots


def _walk(tp: Any, raw: Any, path: tuple, name: str, field: dataclasses.Field, slots: list[Slot]) -> None:
    origin = get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = get_args(tp)
        tagged = next((e for e in extras if isinstance(e, Tagged)), None)
        if tagged is not None and isinstance(raw, dict) and raw.get(tagged.key) in tagged.variants:
            _dataclass(tagged.variants[raw[tagged.key]], raw, path, slots)
        elif tagged is None:
            _walk(base, raw, path, name, field, slots)
        return
    if dataclasses.is_dataclass(tp):
        _dataclass(tp, raw, path, slots)
        return
    if origin in (Union, types.UnionType):
        options = [o for o in get_args(tp) if o is not type(None)]
        if len(options) == 1:
            _walk(options[0], raw, path, name, field, slots)
            return
        if isinstance(raw, dict):
            for option in options:
                if dataclasses.is_dataclass(option) and camel(dataclasses.fields(option)[0].name) in raw:
                    _dataclass(option, raw, path, slots)
                    return
            for option in options:
                if get_origin(option) is dict:
                    _walk(option, raw, path, name, field, slots)
                    return
        elif isinstance(raw, list):
            for option in options:
                if get_origin(option) is list:
                    _walk(option, raw, path, name, field, slots)
                    return
        elif isinstance(raw, str) and str in options:
            slots.append(Slot(path, False, name, field.metadata.get("kind")))
        return
    if origin is list and isinstance(raw, list):
        for i, item in enumerate(raw):
            _walk(get_args(tp)[0], item, (*path, i), name, field, slots)
        return
    if origin is dict and isinstance(raw, dict):
        key_tp, value_tp = get_args(tp)
        for key, item in raw.items():
            if key_tp is str:
                slots.append(Slot((*path, key), True, name, field.metadata.get("keys")))
            _walk(value_tp, item, (*path, key), name, field, slots)
        return
    if tp is str and isinstance(raw, str):
        slots.append(Slot(path, False, name, field.metadata.get("kind")))
    if origin is Literal:
        return


def _dataclass(cls: type, raw: Any, path: tuple, slots: list[Slot]) -> None:
    if not isinstance(raw, dict):
        return
    hints = typing.get_type_hints(cls, include_extras=True)
    for f in dataclasses.fields(cls):
        key = camel(f.name)
        if key in raw:
            _walk(hints[f.name], raw[key], (*path, key), f"{cls.__name__}.{f.name}", f, slots)
