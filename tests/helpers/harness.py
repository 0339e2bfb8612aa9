"""Runs the stackyard program under Pulumi mocks and records every resource it registers.

The recording keeps both the decoded inputs and the raw wire form the engine would get,
where secrets are still wrapped, so tests can assert what is secret and what is not.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from standin.values import SECRET_SIG
from standin.values import plain as unwrap

ROOT = Path(__file__).resolve().parents[2]
# Unit tests never ask a git server which commit a ref names (components/git_refs.py): the deploy
# keys on the ref itself, as it does wherever the repository cannot be reached.
os.environ.setdefault("STACKYARD_RESOLVE_REFS", "off")
# Nor an address which host key it presents (components/host_keys.py): mock tests reach no host.
os.environ.setdefault("STACKYARD_CHECK_HOST_KEYS", "off")
CANARY = "CANARY-7f3a9c-do-not-leak"


@dataclass
class Registration:
    type: str
    name: str
    inputs: dict[str, Any]
    """Decoded inputs, secrets unwrapped (as the mocks see them)."""
    wire: dict[str, Any]
    """Inputs as serialized for the engine: secrets stay inside their signature envelope."""
    urn: str
    parent: str
    protect: bool
    ignore_changes: list[str]
    provider: str
    dependencies: list[str] = field(default_factory=list)
    """URNs of the resources it waits for (depends_on)."""
    retain_on_delete: bool = False
    """Left in place when it leaves the stack: only the state forgets it."""
    delete_before_replace: bool = False
    import_id: str = ""
    """The cloud ID it is adopted by (import), or empty."""
    aliases: list[str] = field(default_factory=list)
    """Names it was known by before (aliases: the state under such a name follows it)."""


@dataclass
class Run:
    resources: list[Registration] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    outputs_by_urn: dict[str, dict[str, Any]] = field(default_factory=dict)
    stack_outputs: dict[str, Any] = field(default_factory=dict)
    """The stack's exports, in wire form (secrets wrapped)."""
    """What each component (and the stack) registered as its outputs, in wire form."""
    logs: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str, type_: str | None = None) -> Registration:
        """The one resource called ``name``; cloud resources win over the component of the same name."""
        matches = [r for r in self.resources if r.name == name and (type_ is None or r.type == type_)]
        if type_ is None and len(matches) > 1:
            matches = [r for r in matches if not r.type.startswith("stackyard:")]
        assert len(matches) == 1, f"{len(matches)} resources named {name}: {[r.name for r in self.resources]}"
        return matches[0]

    def system_of(self, reg: Registration) -> str | None:
        """Name of the System component a resource belongs to, following its parents."""
        by_urn = {r.urn: r for r in self.resources}
        while reg is not None:
            if reg.type == "stackyard:index:System":
                return reg.name
            reg = by_urn.get(reg.parent)
        return None

    def counts(self, system: str | None = None) -> dict[str, int]:
        """Resource count by type, for the whole run or for one system."""
        counts: dict[str, int] = {}
        for r in self.resources:
            if system is None or self.system_of(r) == system:
                counts[r.type] = counts.get(r.type, 0) + 1
        return dict(sorted(counts.items()))


def numeric_id(name: str) -> int:
    """The ID the mocks give a Hetzner or DigitalOcean resource (those clouds use numeric IDs)."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10**7


def _ip(name: str, family: str) -> str:
    n = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    if family == "ipv4":
        return f"198.51.100.{n % 250 + 1}"
    return f"2001:db8::{n % 65535:x}"


class StackyardMocks(pulumi.runtime.Mocks):
    """Echoes inputs and fills in what the clouds would compute: IDs, addresses, fingerprints."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ == "hcloud:index/server:Server" or args.typ == "digitalocean:index/droplet:Droplet":
            state.update(ipv4Address=_ip(args.name, "ipv4"), ipv6Address=_ip(args.name, "ipv6"))
        elif args.typ == "digitalocean:index/reservedIp:ReservedIp":
            state.update(ipAddress=_ip(args.name, "ipv4"))
        elif args.typ == "random:index/randomPassword:RandomPassword":
            # A canary too: generated passwords must stay as secret as configured ones.
            state.update(result=f"{CANARY}-generated-{args.name}")
        elif args.typ == "random:index/randomBytes:RandomBytes":
            raw = hashlib.sha256(f"{CANARY}-bytes-{args.name}".encode()).digest()[:int(args.inputs["length"])]
            state.update(base64=base64.b64encode(raw).decode(), hex=raw.hex())
        elif args.typ == "digitalocean:index/sshKey:SshKey":
            state.update(fingerprint=hashlib.md5(args.inputs["publicKey"].encode()).hexdigest())
        if args.resource_id:  # adopted: the cloud's own ID (the last part of a compound import ID)
            return args.resource_id.rsplit("/", 1)[-1], state
        numeric = args.typ.startswith(("hcloud:", "digitalocean:"))
        return (str(numeric_id(args.name)) if numeric else f"{args.name}-id"), state

    def call(self, args: pulumi.runtime.MockCallArgs):
        raise AssertionError(f"stackyard must not call provider functions (it called {args.token})")


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, run: Run) -> None:
        super().__init__(StackyardMocks())
        self.run = run

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.run.resources.append(Registration(
                type=request.type,
                name=request.name,
                inputs=unwrap(self.resources[response.urn].state),
                wire=json_format.MessageToDict(request.object),
                urn=response.urn,
                parent=request.parent,
                protect=request.protect,
                ignore_changes=list(request.ignoreChanges),
                provider=request.provider,
                dependencies=list(request.dependencies),
                retain_on_delete=request.retainOnDelete,
                delete_before_replace=request.deleteBeforeReplace,
                import_id=request.importId,
                aliases=[a.spec.name for a in request.aliases if a.HasField("spec") and a.spec.name]
                + [u.rsplit("::", 1)[1] for u in request.aliasURNs],
            ))
        return response

    def RegisterResourceOutputs(self, request):
        self.run.outputs.append(json_format.MessageToDict(request.outputs))
        self.run.outputs_by_urn[request.urn] = self.run.outputs[-1]
        return super().RegisterResourceOutputs(request)


class _LogCapture(logging.Handler):
    def __init__(self, run: Run) -> None:
        super().__init__()
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        self.run.logs.append(record.getMessage())


def every_secret_set(name: str) -> str:
    """A secret_state for load_topology: the stack file's own keys are plain text, and every other key it
    names is a secret that is set."""
    from components.model import Settings
    from components.model.parse import camel

    return "plain" if name in {camel(field) for field in Settings.__dataclass_fields__} else "secret"


def read_stack_file(path: Path | str) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file."""
    return (yaml.safe_load(Path(path).read_text()) or {}).get("config", {})


def referenced_secrets(config: dict[str, Any]) -> set[str]:
    """Every name used as {secret: name} anywhere in the stack's stackyard config."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"secret"} and isinstance(node["secret"], str):
                found.add(node["secret"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk({k: v for k, v in config.items() if k.startswith("stackyard:")})
    return found


def run_program(config: dict[str, Any], secrets: dict[str, str] | None = None, *,
                plain: dict[str, str] | None = None, stack: str = "production", run: Run | None = None) -> Run:
    """Runs __main__'s program with ``config`` (a stack file's config mapping) under mocks.

    ``secrets`` are set as encrypted config (``stackyard:<name>`` or a full ``ns:key``);
    ``plain`` as plain-text config. Raises what the program raises.
    """
    run = Run()
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            continue  # encrypted in the file; tests pass their own values through `secrets`
        values[key] = value if isinstance(value, str) else json.dumps(value)
    for key, value in (plain or {}).items():
        values[key if ":" in key else f"stackyard:{key}"] = value
    for key, value in (secrets or {}).items():
        full = key if ":" in key else f"stackyard:{key}"
        values[full] = value
        secret_keys.append(full)

    pulumi.runtime.set_all_config(values, secret_keys)
    settings.ROOT.set(None)
    logger = logging.getLogger(f"stackyard-test-{id(run)}")
    logger.addHandler(_LogCapture(run))
    logger.propagate = False
    mocks.set_mocks(StackyardMocks(), project="stackyard", stack=stack, preview=False,
                    monitor=RecordingMonitor(run), logger=logger)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()

    from components.stack import main

    _sync_await(run_pulumi_func(main))
    # The stack's exports stay on the root Stack object under mocks (the engine would get them when the
    # program ends): serialized here as the engine would get them, secrets still wrapped.
    from pulumi.runtime import rpc

    root = settings.get_root_resource()
    exported = _sync_await(rpc.serialize_properties(getattr(root, "outputs", {}) or {}, {}))
    run.stack_outputs = json_format.MessageToDict(exported)
    return run


def production_config() -> dict[str, Any]:
    return read_stack_file(ROOT / "Pulumi.production.yaml")


def canary_secrets(config: dict[str, Any]) -> dict[str, str]:
    """Every secret the stack references set to a distinct canary, plus provider credentials."""
    secrets = {name: f"{CANARY}-{name}" for name in referenced_secrets(config)}
    secrets["github:token"] = f"ghp_{CANARY}"
    return secrets


def find_plaintext(node: Any, needle: str, path: str = "") -> list[str]:
    """Paths in a wire-form value where ``needle`` appears outside a secret envelope."""
    if isinstance(node, dict):
        if node.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            return []
        hits = []
        for key, value in node.items():
            if needle in str(key):
                hits.append(f"{path}.{key} (key)")
            hits += find_plaintext(value, needle, f"{path}.{key}")
        return hits
    if isinstance(node, list):
        return [hit for i, value in enumerate(node) for hit in find_plaintext(value, needle, f"{path}[{i}]")]
    if isinstance(node, str) and needle in node:
        return [path or "."]
    return []
