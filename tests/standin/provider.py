"""A stand-in resource plugin: speaks Pulumi's provider gRPC protocol for one cloud, calls no cloud.

The real hcloud, digitalocean, cloudflare, vercel and github plugins cannot be built on the
machines stackyard is tested on, so the engine test tier runs the real `pulumi` engine against
these instead. Each stand-in:

- answers Check by echoing the inputs, and refuses what the real provider is known to refuse
  for the inputs stackyard sends (its rules live in ``clouds/<provider>.py``);
- answers Diff by comparing inputs, replacing where the real provider replaces;
- answers Create with an ID and the outputs stackyard reads (addresses, fingerprints, IDs);
- answers Read from a small on-disk "cloud" when ``STACKYARD_STANDIN_CLOUD`` names a directory
  (tests put existing resources there to import or to drift), else echoes the state it is given;
- says what it is: on Configure, the first stand-in of a run logs one warning through the engine,
  naming every stand-in the run has on its PATH, so every run that uses a stand-in shows it once in
  its output, not once per plugin per phase (a `pulumi up` previews, then updates).

Started by Pulumi as ``pulumi-resource-<provider> [flags] <engine address>`` through the
launcher in ``tests/standin/bin``; it prints its port and serves until the engine stops it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc, plugin_pb2, provider_pb2, provider_pb2_grpc

from .clouds import NAMES, Cloud, Kind, cloud_named
from .values import plain

BANNER = ("stand-in plugins for {names} (stackyard's tests/standin) answer this run: they call no cloud API, so "
          "it is not a real preview or update for {titles}")
"""The one warning of a run that uses stand-ins."""
LAUNCHERS = "STACKYARD_STANDIN_LAUNCHERS"
"""The directory the launcher was started from (tests/standin/bin sets it): the run's stand-ins are there."""


def standins_beside(directory: str | None, own: Cloud) -> list[Cloud]:
    """The clouds with a stand-in launcher in ``directory`` (the run's PATH entry), ``own`` among them."""
    names = {own.name}
    if directory and os.path.isdir(directory):
        names |= {name for name in NAMES if os.path.exists(os.path.join(directory, f"pulumi-resource-{name}"))}
    return [own if name == own.name else cloud_named(name) for name in NAMES if name in names]


def first_of_run(engine_pid: int, marks: Path | None = None) -> bool:
    """Whether this is the first stand-in of the engine process ``engine_pid`` to ask: a mark named by that
    process and its start time (a pid is reused, a pid and its start time are not) is created once;
    marks of processes gone are removed."""
    try:
        started = Path(f"/proc/{engine_pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return True  # no way to tell: say it again rather than never
    marks = marks or Path(tempfile.gettempdir()) / f"stackyard-standin-runs-{os.getuid()}"
    marks.mkdir(mode=0o700, exist_ok=True)
    for old in marks.iterdir():
        if not Path(f"/proc/{old.name.split('-', 1)[0]}").exists():
            old.unlink(missing_ok=True)
    try:
        os.close(os.open(marks / f"{engine_pid}-{started}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True


def to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def to_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


def type_of(urn: str) -> str:
    """The resource type token in a URN: ``urn:pulumi:stack::project::parent$type::name``."""
    return urn.split("::")[2].split("$")[-1]


def name_of(urn: str) -> str:
    return urn.split("::", 3)[3]


class Store:
    """The stand-in's cloud: one JSON file per resource, ``<dir>/<provider>/<type>/<id>.json`` holding
    ``{"inputs": ..., "outputs": ...}``. Without a directory nothing is kept and Read echoes."""

    def __init__(self, root: str | None, provider: str) -> None:
        self.root = Path(root) / provider if root else None
        self.lock = threading.Lock()

    def _path(self, token: str, id_: str) -> Path:
        assert self.root is not None
        safe = hashlib.sha256(id_.encode()).hexdigest()[:16] if "/" in id_ else id_
        return self.root / token.replace("/", "_").replace(":", "_") / f"{safe}.json"

    def get(self, token: str, id_: str) -> dict[str, Any] | None:
        if self.root is None:
            return None
        path = self._path(token, id_)
        return json.loads(path.read_text()) if path.exists() else None

    def put(self, token: str, id_: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        if self.root is None:
            return
        path = self._path(token, id_)
        with self.lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"id": id_, "inputs": inputs, "outputs": outputs}, indent=1, sort_keys=True))

    def all(self, token: str) -> list[dict[str, Any]]:
        if self.root is None:
            return []
        folder = self._path(token, "x").parent
        return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))] if folder.is_dir() else []

    def delete(self, token: str, id_: str) -> None:
        if self.root is not None:
            self._path(token, id_).unlink(missing_ok=True)


class StandInProvider(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self, cloud: Cloud, engine_address: str | None) -> None:
        self.cloud = cloud
        self.engine_address = engine_address
        self.store = Store(os.environ.get("STACKYARD_STANDIN_CLOUD"), cloud.name)
        self.announced = False

    # --- plugin and configuration -----------------------------------------------------------

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=self.cloud.version)

    def GetSchema(self, request, context):
        return provider_pb2.GetSchemaResponse(schema=json.dumps({"name": self.cloud.name,
                                                                 "version": self.cloud.version}))

    def CheckConfig(self, request, context):
        news = to_dict(request.news)
        failures = [provider_pb2.CheckFailure(property=p, reason=r) for p, r in self.cloud.check_config(news)]
        return provider_pb2.CheckResponse(inputs=request.news, failures=failures)

    def DiffConfig(self, request, context):
        same = to_dict(request.olds) == to_dict(request.news)
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE if same
                                         else provider_pb2.DiffResponse.DIFF_SOME)

    def Configure(self, request, context):
        self._announce()
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=False, acceptResources=True,
                                              acceptOutputs=False)

    def _announce(self) -> None:
        if self.announced:
            return
        self.announced = True
        clouds = standins_beside(os.environ.get(LAUNCHERS), self.cloud)
        message = BANNER.format(names=", ".join(f"{c.name} ({c.version})" for c in clouds),
                                titles=", ".join(c.title for c in clouds))
        print(message, file=sys.stderr)  # the engine's log has each plugin's
        if not self.engine_address or not first_of_run(os.getppid()):
            return
        try:
            with grpc.insecure_channel(self.engine_address) as channel:
                engine_pb2_grpc.EngineStub(channel).Log(
                    engine_pb2.LogRequest(severity=engine_pb2.WARNING, message=message), timeout=10)
        except grpc.RpcError as err:  # the banner on stderr is still in the engine's log
            print(f"could not log to the engine: {err}", file=sys.stderr)

    # --- resources ----------------------------------------------------------------------------

    def _kind(self, urn: str, context) -> Kind:
        token = type_of(urn)
        kind = self.cloud.kinds.get(token)
        if kind is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"the stand-in {self.cloud.name} plugin does not model {token}; add it to "
                          f"tests/standin/clouds/{self.cloud.name}.py")
        return kind

    def Check(self, request, context):
        kind = self._kind(request.urn, context)
        news = to_dict(request.news)
        # STACKYARD_STANDIN_CHECKS=off plays a provider that refuses only when the cloud does, at apply:
        # the policy pack must then stop what Check let through. Its schema it still checks, as every
        # bridged plugin does.
        lenient = os.environ.get("STACKYARD_STANDIN_CHECKS") == "off"
        failures = [provider_pb2.CheckFailure(property=p, reason=r)
                    for p, r in self.cloud.check(kind, news, rules=not lenient)]
        return provider_pb2.CheckResponse(inputs=request.news, failures=failures)

    def Diff(self, request, context):
        kind = self._kind(request.urn, context)
        news = to_dict(request.news)
        olds = to_dict(request.old_inputs) if request.HasField("old_inputs") else kind.inputs_of(to_dict(request.olds))
        ignored = set(request.ignoreChanges)
        changed = sorted(key for key in set(olds) | set(news)
                         if key not in ignored and key != "__defaults" and olds.get(key) != news.get(key))
        if not changed:
            return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)
        replaces = [key for key in changed if key in kind.replace_on]
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_SOME, diffs=changed,
                                         replaces=replaces, deleteBeforeReplace=kind.delete_before_replace)

    def _refuse_clash(self, kind: Kind, id_: str, inputs: dict[str, Any], context) -> None:
        """Fails the call as the cloud would where these inputs clash with another resource it holds."""
        if kind.clash is None:
            return
        for other in self.store.all(kind.token):
            reason = other["id"] != id_ and kind.clash(plain(inputs), plain(other["inputs"]))
            if reason:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, reason)

    def Create(self, request, context):
        kind = self._kind(request.urn, context)
        inputs = to_dict(request.properties)
        failures = self.cloud.check(kind, inputs)
        if failures:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(f"{p}: {r}" for p, r in failures))
        id_ = kind.new_id(name_of(request.urn), plain(inputs))
        self._refuse_clash(kind, id_, inputs, context)
        outputs = {**inputs, **kind.computed(id_, name_of(request.urn), plain(inputs))}
        self.store.put(kind.token, id_, inputs, outputs)
        return provider_pb2.CreateResponse(id=id_, properties=to_struct(outputs))

    def Update(self, request, context):
        kind = self._kind(request.urn, context)
        news = to_dict(request.news)
        olds = to_dict(request.olds)
        computed = {key: value for key, value in olds.items() if key not in news}
        self._refuse_clash(kind, request.id, news, context)
        outputs = {**computed, **news, **kind.computed(request.id, name_of(request.urn), plain(news))}
        self.store.put(kind.token, request.id, news, outputs)
        return provider_pb2.UpdateResponse(properties=to_struct(outputs))

    def Read(self, request, context):
        kind = self._kind(request.urn, context)
        # An import asks by the cloud's import ID, which may be compound (zone/record, project/domain):
        # the resource's own ID is its last part.
        id_ = request.id.rsplit("/", 1)[-1] if not request.properties.fields else request.id
        found = self.store.get(kind.token, id_)
        if found is not None:
            return provider_pb2.ReadResponse(id=id_, properties=to_struct(found["outputs"]),
                                             inputs=to_struct(found["inputs"]))
        if self.store.root is not None or not request.properties.fields:
            return provider_pb2.ReadResponse()  # gone: not in the stand-in's cloud
        state = to_dict(request.properties)
        inputs = to_dict(request.inputs) if request.inputs.fields else kind.inputs_of(state)
        return provider_pb2.ReadResponse(id=request.id, properties=request.properties, inputs=to_struct(inputs))

    def Delete(self, request, context):
        kind = self._kind(request.urn, context)
        self.store.delete(kind.token, request.id)
        return empty_pb2.Empty()

    def Cancel(self, request, context):
        return empty_pb2.Empty()


def main(argv: list[str]) -> None:
    name = argv[0]
    cloud = cloud_named(name)
    positional = [arg for arg in argv[1:] if not arg.startswith("-")]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(StandInProvider(cloud, positional[-1] if positional
                                                                             else None), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main(sys.argv[1:])

