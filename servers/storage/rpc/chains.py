"""Chain definitions for the Workflow service's registry (service callers only)."""

from __future__ import annotations

import grpc
from tickmesh.storage.v1 import storage_pb2

from servers.storage import convert
from servers.storage.relational import chains
from servers.storage.rpc._base import SERVICE, StorageRpcs, require


class ChainRpcs(StorageRpcs):
    async def SaveChainVersion(
        self, request: storage_pb2.SaveChainVersionRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.SaveChainVersionResponse:
        require(SERVICE)
        saved = await chains.save_version(self._store, request.name, request.definition)
        return storage_pb2.SaveChainVersionResponse(chain=convert.chain_version(saved))

    async def ListChainVersions(
        self, request: storage_pb2.ListChainVersionsRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListChainVersionsResponse:
        require(SERVICE)
        found = await chains.list_versions(self._store, request.name)
        return storage_pb2.ListChainVersionsResponse(
            chains=[convert.chain_version(c) for c in found]
        )
