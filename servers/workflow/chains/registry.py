"""The chain registry: definitions validated here, stored by Storage (every version), read
back by name."""

from __future__ import annotations

from typing import Any

import grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc
from tickmesh.workflow.v1 import chains_pb2

from mesh.errors import NotFound
from mesh.peer_errors import peer_error
from servers.workflow.chains.definition import validate


def _definition(stored: storage_pb2.ChainVersion) -> chains_pb2.ChainDefinition:
    chain = chains_pb2.ChainDefinition.FromString(stored.definition)
    chain.version = stored.version
    chain.registered_at.CopyFrom(stored.registered_at)
    return chain


async def _storage(rpc: Any, request: Any) -> Any:
    try:
        return await rpc(request, timeout=10)
    except grpc.aio.AioRpcError as err:
        raise peer_error(err, "Storage") from None


class ChainRegistry:
    """Register, list and get chains, through Storage."""

    def __init__(self, storage: storage_pb2_grpc.StorageServiceStub) -> None:
        self._storage = storage

    async def register(self, chain: chains_pb2.ChainDefinition) -> chains_pb2.ChainDefinition:
        """Validate `chain` and store it as the next version of its name."""
        validate(chain)
        body = chains_pb2.ChainDefinition()
        body.CopyFrom(chain)
        body.ClearField("version")
        body.ClearField("registered_at")
        reply = await _storage(
            self._storage.SaveChainVersion,
            storage_pb2.SaveChainVersionRequest(
                name=chain.name, definition=body.SerializeToString(deterministic=True)
            ),
        )
        return _definition(reply.chain)

    async def register_if_changed(
        self, chain: chains_pb2.ChainDefinition
    ) -> chains_pb2.ChainDefinition:
        """Register `chain` unless its latest version says the same (built-ins at start)."""
        try:
            latest = await self.get(chain.name)
        except NotFound:
            return await self.register(chain)
        same = chains_pb2.ChainDefinition()
        same.CopyFrom(latest)
        same.ClearField("version")
        same.ClearField("registered_at")
        return latest if same == chain else await self.register(chain)

    async def latest(self) -> list[chains_pb2.ChainDefinition]:
        """Every chain's latest version, by name."""
        reply = await _storage(
            self._storage.ListChainVersions, storage_pb2.ListChainVersionsRequest()
        )
        return [_definition(c) for c in reply.chains]

    async def get(self, name: str, version: int = 0) -> chains_pb2.ChainDefinition:
        """One version (0: the latest); NOT_FOUND naming what is missing."""
        reply = await _storage(
            self._storage.ListChainVersions, storage_pb2.ListChainVersionsRequest(name=name)
        )
        versions = [_definition(c) for c in reply.chains]
        if not versions:
            raise NotFound(f"chain {name!r} not found")
        if version == 0:
            return versions[-1]
        for found in versions:
            if found.version == version:
                return found
        raise NotFound(f"chain {name!r} has no version {version} (latest: {versions[-1].version})")
