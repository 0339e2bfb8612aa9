"""Property values as the engine sends them to a plugin that accepts secrets (and as the mocks record them)."""

from __future__ import annotations

from typing import Any

SECRET_SIG = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def plain(node: Any) -> Any:
    """The value with every secret envelope replaced by what it holds."""
    if isinstance(node, dict):
        if SECRET_SIG in node:
            return plain(node.get("value"))
        return {key: plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(value) for value in node]
    return node


def unknown(value: Any) -> bool:
    """True for a value not known yet (an output of a resource still to be created, at preview)."""
    return value == UNKNOWN


def known(value: Any) -> bool:
    return value is not None and not unknown(value)
