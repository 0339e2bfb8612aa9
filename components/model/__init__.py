"""The stackyard topology model: read and validate a stack's config before any resource exists."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from .parse import Reader, camel
from .rules import RuntimeRules, SecretLookup, check, fqdn, has_ipv6
from .topology import (
    Access,
    AccessoryRef,
    Credentials,
    DigitalOceanHost,
    Dns,
    DnsRecord,
    ExistingHost,
    FrontendRef,
    Github,
    HetznerHost,
    HostRef,
    PagesFrontend,
    RecordRef,
    SecretRef,
    Service,
    Settings,
    System,
    Topology,
    Value,
    VercelFrontend,
)

NAMESPACE = "stackyard"

__all__ = [
    "NAMESPACE",
    "Access",
    "AccessoryRef",
    "Credentials",
    "DigitalOceanHost",
    "Dns",
    "DnsRecord",
    "ExistingHost",
    "FrontendRef",
    "Github",
    "HetznerHost",
    "HostRef",
    "PagesFrontend",
    "RecordRef",
    "SecretRef",
    "Service",
    "Settings",
    "StackConfigError",
    "System",
    "Topology",
    "Value",
    "VercelFrontend",
    "fqdn",
    "has_ipv6",
    "load_topology",
]


class StackConfigError(Exception):
    """Every problem found in a stack's config, each with its config path."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = sorted(set(problems), key=lambda p: problems.index(p))
        count = len(self.problems)
        lines = [f"the stack config has {count} problem{'s' if count != 1 else ''}:"]
        lines += [f"  {path}: {message}" for path, message in self.problems]
        super().__init__("\n".join(lines))

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.problems]


PROVIDER_KEYS = ("hcloud:token", "digitalocean:token", "cloudflare:apiToken", "vercel:apiToken", "github:token")
"""The only keys of other namespaces a stack may set: the providers' tokens. Any other provider setting
(hcloud:endpoint, digitalocean:apiEndpoint, ...) could send a token somewhere else, and a preview run on
a pull request's stack file would do it with the tokens CI decrypts."""


def load_topology(values: Mapping[str, Any], secret_state: SecretLookup, others: Iterable[str] = (), *,
                  runtimes: Mapping[str, RuntimeRules]) -> Topology:
    """Reads the ``stackyard:`` config keys (without the namespace) into a validated Topology.

    ``secret_state(name)`` tells whether ``stackyard:<name>`` is set as a secret, in plain
    text, or not at all; ``others`` are the stack's keys of other namespaces; ``runtimes`` the process
    managers a service may name (components/render/runtimes/). Raises StackConfigError listing every problem.
    """
    reader = Reader()
    for key in others:
        if key not in PROVIDER_KEYS and not key.startswith("pulumi:"):
            reader.fail(key, "stackyard reads no such key, and a provider setting other than its token may send "
                             f"the token elsewhere: remove it (the providers' keys: {', '.join(PROVIDER_KEYS)})")
    known = {camel(name) for name in Settings.__dataclass_fields__}
    for key in known:
        if key in values and secret_state(key) == "secret":
            # `config set --secret --path stackyard:systems.x...` makes the whole key secret, and its values
            # would go on as plain text (a Pages variable, a diff): a secret is its own key, named by {secret: }.
            reader.fail(key, f"{NAMESPACE}:{key} is stored as a secret (a `config set --secret --path` into it "
                             "does that): set the secret value as a key of its own, `pulumi config set --secret "
                             f"{NAMESPACE}:<name>`, refer to it with {{secret: <name>}}, and set {NAMESPACE}:{key} "
                             "again without --secret")
    for key in values:
        if key in known or secret_state(key) == "secret":
            continue
        hint = difflib.get_close_matches(key, sorted(known), n=1)
        reader.fail(key, f"unknown config key {NAMESPACE}:{key}; "
                         + (f"did you mean '{hint[0]}'?" if hint else f"known keys: {', '.join(sorted(known))}")
                         + " (secrets must be set with --secret)")
    if "systems" not in values:
        reader.fail("systems", f"not set: describe the stack's systems under {NAMESPACE}:systems")
    # A settings key stored as a secret is reported above and never read: its value (another key's ciphertext,
    # copied there by a pull request) would otherwise reach a type error's message, decrypted, in CI's output.
    raw = {key: value for key, value in values.items() if key in known and secret_state(key) != "secret"}
    raw.setdefault("systems", {})
    settings = reader.read(Settings, raw, "")
    problems = list(reader.problems)
    warnings: list[str] = []
    if settings is not None and settings.systems is not None:
        rules = check(settings, secret_state, runtimes)
        # Where the reader could not take a value (None to the rules), a rule's word at that path is about
        # the gap it left ("required"), not about what was written: the reader's says what to change.
        unread = {path for path, _ in reader.problems}
        problems += [problem for problem in rules.problems if problem[0] not in unread]
        warnings = rules.warnings
    if problems:
        raise StackConfigError(problems)
    assert settings is not None  # the reader returns None only after recording why, raised just above
    return Topology(settings=settings, warnings=tuple(warnings))
