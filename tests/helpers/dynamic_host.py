"""The process the Pulumi engine starts for Python dynamic providers (`python -m pulumi.dynamic`),
driven over gRPC the way the engine drives it: Configure with the stack's config, then Check,
Create, Read, Diff, Update and Delete with serialized property bags that carry the pickled
provider. What this cannot show is the engine's own bookkeeping (state files, step ordering):
the test walks the resources in the program's registration order, as the engine would.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


def struct(props: dict[str, Any]):
    # A loop of its own: asyncio.run() would unset the current loop, which the Pulumi mocks still use.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties({k: v for k, v in props.items() if v is not None}, {}))
    finally:
        loop.close()


def plain(props) -> dict[str, Any]:
    return rpc.deserialize_properties(props)


class ProviderError(Exception):
    """What the provider process answered instead of a result (its traceback's last line first)."""


class DynamicProviderHost:
    def __init__(self, config: dict[str, str]) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DynamicProviderHost:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "SUPABASE_"))}
        env["PULUMI_PROJECT"] = "stackyard"
        # The engine starts it in the project directory; that is how `components` is importable there.
        self.process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic"], cwd=ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        port = int(self.process.stdout.readline().decode().strip())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        answer = self.stub.Configure(provider_pb2.ConfigureRequest(args=struct(self.config), acceptSecrets=True))
        # The dynamic provider refuses secrets, so the engine strips secret wrappers before every call.
        assert answer.acceptSecrets is False
        return self

    def __exit__(self, *exc: object) -> None:
        self.channel.close()
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request, timeout=120)
        except grpc.RpcError as err:
            details = err.details() or ""
            last = details.strip().splitlines()[-1] if details.strip() else str(err.code())
            raise ProviderError(f"{method}: {last}\n{details}") from None

    def check(self, urn: str, olds: dict, news: dict) -> dict[str, Any]:
        answer = self._call("Check", provider_pb2.CheckRequest(urn=urn, olds=struct(olds), news=struct(news)))
        assert list(answer.failures) == [], answer.failures
        return plain(answer.inputs)

    def create(self, urn: str, inputs: dict) -> tuple[str, dict[str, Any]]:
        answer = self._call("Create", provider_pb2.CreateRequest(urn=urn, properties=struct(inputs)))
        return answer.id, plain(answer.properties)

    def read(self, id_: str, urn: str, outputs: dict, inputs: dict) -> tuple[str, dict[str, Any]]:
        answer = self._call("Read", provider_pb2.ReadRequest(id=id_, urn=urn, properties=struct(outputs),
                                                             inputs=struct(inputs)))
        return answer.id, plain(answer.properties)

    def diff(self, id_: str, urn: str, outputs: dict, inputs: dict) -> bool:
        answer = self._call("Diff", provider_pb2.DiffRequest(id=id_, urn=urn, olds=struct(outputs),
                                                             news=struct(inputs)))
        assert answer.changes != provider_pb2.DiffResponse.DIFF_UNKNOWN
        return answer.changes == provider_pb2.DiffResponse.DIFF_SOME

    def update(self, id_: str, urn: str, outputs: dict, inputs: dict) -> dict[str, Any]:
        answer = self._call("Update", provider_pb2.UpdateRequest(id=id_, urn=urn, olds=struct(outputs),
                                                                 news=struct(inputs)))
        return plain(answer.properties)

    def delete(self, id_: str, urn: str, outputs: dict) -> None:
        self._call("Delete", provider_pb2.DeleteRequest(id=id_, urn=urn, properties=struct(outputs)))
