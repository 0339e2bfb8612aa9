"""Generated hostile and malformed values in every string of the model: each is refused with a clean
StackConfigError that names its config path, or accepted. Never a traceback.

The strings are those of three stacks that together hold every string field of the model at least
once (the production and local stacks, and tests/fixtures/stacks/kitchen-sink.yaml); a test keeps it
so. Each run puts every hostile value into every string (and every mapping key), and every malformed
value into every node.
"""

from __future__ import annotations

import pytest
from helpers.hostile import (
    HOSTILE,
    MALFORMED,
    STACKS,
    config_path,
    load,
    narrowed,
    nodes,
    related,
    replaced,
    slots,
    stack,
)
from helpers.model_walk import string_fields, string_slots


def node_at(config: dict, path: tuple):
    for part in path:
        config = config[part]
    return config


def test_every_string_field_of_the_model_declares_its_kind() -> None:
    missing = [name for name, values, keys, field in string_fields()
               if (values and field.metadata.get("kind") is None) or (keys and field.metadata.get("keys") is None)]
    assert missing == []


def test_the_stacks_hold_every_string_field_of_the_model() -> None:
    held = {slot.field for name in STACKS for slot in string_slots(stack(name))}
    assert {name for name, *_ in string_fields()} - held == set()


@pytest.mark.parametrize("name", list(STACKS))
def test_the_stacks_load_as_they_are(name: str) -> None:
    assert load(stack(name)) is None


@pytest.mark.parametrize("name", list(STACKS))
def test_a_hostile_value_anywhere_is_refused_at_its_path_or_accepted(name: str) -> None:
    config = stack(name)
    tracebacks, unnamed = [], []
    for slot in slots(name):
        for label, value in HOSTILE.items():
            changed = replaced(narrowed(config, slot.path), slot.path, value, key=slot.is_key)
            where = config_path((*slot.path[:-1], value) if slot.is_key else slot.path)
            try:
                error = load(changed)
            except Exception as err:
                tracebacks.append(f"{where} ({label}): {type(err).__name__}: {err}")
                continue
            # A value its kind refuses must be reported at its own path; one its kind accepts may still be
            # refused elsewhere (a renamed host that a service names).
            refused_by_kind = slot.kind is not None and slot.kind(value) is not None
            if refused_by_kind and (error is None or not any(related(path, where) for path in error.paths)):
                unnamed.append(f"{where[:120]} ({label}): {error.paths if error else 'accepted'}")
    assert tracebacks == []
    assert unnamed == []


@pytest.mark.parametrize("name", list(STACKS))
def test_a_malformed_value_anywhere_gives_a_clean_error_never_a_traceback(name: str) -> None:
    """null, a number, a boolean, a list or a mapping in place of every node. Where the type does not
    fit, the reader names the path (tests/model/test_bad_stack_files.py pins the messages); where it does fit
    (a number is a plain value, null leaves an optional key out), what needs the node says so."""
    config = stack(name)
    tracebacks, refused = [], 0
    for path in nodes({k: v for k, v in config.items() if k.startswith("stackyard:")}):
        original = node_at(config, path)
        for label, value in MALFORMED.items():
            if type(value) is type(original):
                continue  # a mapping for a mapping is not malformed
            where = config_path(path)
            try:
                error = load(replaced(narrowed(config, path), path, value))
            except Exception as err:
                tracebacks.append(f"{where} ({label}): {type(err).__name__}: {err}")
                continue
            refused += error is not None and any(related(p, where) for p in error.paths)
    assert tracebacks == []
    assert refused > 0


def test_the_corpus_reaches_every_kind_of_refusal() -> None:
    """The corpus is not toothless: each hostile value is refused somewhere, and accepted somewhere."""
    config = stack("kitchen-sink")
    outcomes: dict[str, set[bool]] = {label: set() for label in HOSTILE}
    for slot in slots("kitchen-sink"):
        for label, value in HOSTILE.items():
            outcomes[label].add(load(replaced(narrowed(config, slot.path), slot.path, value, key=slot.is_key)) is None)
    assert {label: seen for label, seen in outcomes.items() if False not in seen} == {}


def test_a_single_line_kind_refuses_its_own_value_with_a_newline_after_it() -> None:
    """Python's ``$`` also matches before a final newline, so a check written as ``re.match(...$)``
    passes ``'api\\n'``, which a shell, a unit file or nginx then reads as two lines. Each string of
    the stacks, with a newline put after it, is refused by its kind unless the kind holds many lines."""
    config = stack("kitchen-sink")
    accepted = set()
    for slot in slots("kitchen-sink"):
        if slot.kind is None or slot.is_key:
            continue
        value = config
        for key in slot.path:
            value = value[key]
        if isinstance(value, str) and slot.kind(value) is None and slot.kind(value + "\n") is None:
            accepted.add(slot.kind.name)
    # An env value may be a PEM key, and a CA root is PEM; SQL reads newlines as spaces.
    assert accepted == {"value", "SQL expression", "PEM certificates"}


@pytest.mark.parametrize("name", list(STACKS))
def test_a_date_the_cli_rewrote_is_refused_in_every_string_quote_it(name: str) -> None:
    """An unquoted date reaches the program as Go's time.Time text ("2024-01-02 00:00:00 +0000 UTC"): the text
    written is gone, in a plain string field (a TXT record's content, a description, a policy's name) as in a
    value. Each string of the stacks, given that text, is refused at its own path and told to quote it."""
    config = stack(name)
    accepted = []
    for slot in slots(name):
        if slot.is_key:
            continue
        for read in ("2024-01-02 00:00:00 +0000 UTC", "2024-01-02 03:04:05.123 -0530 -0530",
                     "2024-01-02 03:04:05 +0400 +04"):
            where = config_path(slot.path)
            error = load(replaced(narrowed(config, slot.path), slot.path, read))
            if error is None or not any(path == where and "quote" in message for path, message in error.problems):
                accepted.append(f"{where} ({read}): {error.problems if error else 'accepted'}")
    assert accepted == []
