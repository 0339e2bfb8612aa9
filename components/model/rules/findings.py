"""What the rules found: problems, each at its config path, and warnings; and the checks every section
shares (a value's reference, a number's range)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, Protocol

from .. import connections
from ..topology import (
    AccessoryRef,
    FrontendRef,
    HostRef,
    RecordRef,
    SecretRef,
    Service,
    Settings,
    System,
    VercelFrontend,
)
from .addresses import fqdn, has_ipv6

SecretState = Literal["secret", "plain", "missing"]
SecretLookup = Callable[[str], SecretState]
MAX_KEEP = 1000
"""Most releases, dumps, copies or rotated logs kept: more is a full disk, not a retention policy."""


class RuntimeRules(Protocol):
    """What the rules ask of a runtime (a process manager, components/render/runtimes/): the model knows
    the runtimes only through this, handed in by whoever loads the stack."""

    name: str
    uses_docker: bool
    stackyard_env: dict[str, str]
    files_in_slot: bool

    def check(self, rules: Findings, spath: str, service: Service, system: System) -> None:
        """What the stack file may not say of a service under this runtime."""


class Findings:
    """The stack's settings as read, how each secret is stored, the runtimes there are, and what the
    rules found in them."""

    def __init__(self, settings: Settings, secret_state: SecretLookup,
                 runtimes: Mapping[str, RuntimeRules]) -> None:
        self.settings = settings
        self.secret_state = secret_state
        self.runtimes = runtimes
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def within(self, path: str, value: int | None, low: int, high: int, unit: str = "") -> None:
        """A number the scripts use as it is: 0 or a negative one means "never" or "none" to them (curl
        --max-time 0 never times out, sleep 0 spins), and a huge one holds a deploy or fills a disk."""
        if value is not None and not low <= value <= high:
            self.fail(path, f"{value} is out of range: at least {low} and at most {high}{unit}")

    def named(self, path: str, kind: str, entries: dict | None) -> Iterator[tuple[str, Any]]:
        """(path, entry) for each readable entry (its name is checked by its kind, kinds.NAME)."""
        for name, entry in (entries or {}).items():
            if entry is not None:
                yield f"{path}.{name}", entry

    def check_value(self, path: str, system: System, value: object, host: str | None = None) -> None:
        if isinstance(value, AccessoryRef):
            spec = (system.hosts or {}).get(host) if host else None
            accessories = getattr(spec, "accessories", None) or {}
            accessory = accessories.get(value.accessory)
            if host is None:
                self.fail(f"{path}.accessory", "accessory values can only be used by services")
            elif value.accessory not in accessories:
                self.fail(f"{path}.accessory", f"host '{host}' has no {value.accessory} accessory")
            elif accessory is None:
                pass  # an empty entry: reported where the accessory is
            elif (value.output in connections.SECRET_OUTPUTS and accessory.existing
                  and accessory.password is None):
                self.fail(f"{path}.accessory", f"host '{host}''s {value.accessory} is an existing server whose "
                                               "password stackyard does not know: set its password secret")
            elif problem := connections.missing(value.accessory, value.output, user=accessory.user,
                                                database=accessory.database):
                self.fail(f"{path}.output", problem)
        elif isinstance(value, SecretRef) and value.secret:
            state = self.secret_state(value.secret)
            if state == "missing":
                self.fail(path, f"secret '{value.secret}' is not set: run "
                                f"`pulumi config set --secret stackyard:{value.secret} <value>`")
            elif state == "plain":
                self.fail(path, f"stackyard:{value.secret} is stored in plain text: set it again with "
                                f"`pulumi config set --secret stackyard:{value.secret} <value>`")
        elif isinstance(value, FrontendRef) and value.frontend:
            frontend = (system.frontends or {}).get(value.frontend)
            if path.split(".")[2:3] != ["github"]:
                # Frontends are made after hosts, Supabase and their own variables: only Actions secrets,
                # made last, can wait for them.
                self.fail(f"{path}.frontend", "a frontend's IDs can be used in github secrets only")
            elif not isinstance(frontend, VercelFrontend):
                vercel = [n for n, f in (system.frontends or {}).items() if isinstance(f, VercelFrontend)]
                self.fail(f"{path}.frontend", f"no Vercel frontend named '{value.frontend}' in this system "
                                              f"(Vercel frontends: {', '.join(vercel) or 'none'})")
            elif value.output == "teamId" and not frontend.team_id:
                self.fail(f"{path}.output", f"frontend '{value.frontend}' names no teamId: set it to the team "
                                            "that owns the project")
        elif isinstance(value, RecordRef) and value.record:
            records = {hostname: r for r in (system.dns.records or ()) if r is not None and (hostname := fqdn(r))}
            if value.record not in records:
                known = ", ".join(sorted(records)) or "none"
                self.fail(f"{path}.record", f"no DNS record '{value.record}' in this system (records: {known})")
        elif isinstance(value, HostRef) and value.host:
            hosts = system.hosts or {}
            target = hosts.get(value.host)
            if target is None:
                self.fail(f"{path}.host", f"no host named '{value.host}' in this system "
                                          f"(hosts: {', '.join(hosts) or 'none'})")
            elif value.family == "ipv6" and not has_ipv6(target):
                self.fail(f"{path}.family", f"host '{value.host}' has no IPv6 address")

