"""Trading data: a tenant's broker accounts, positions and storage use; retention by operators."""

from __future__ import annotations

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.business_time import as_of
from mesh.errors import FieldViolation, InvalidArgument
from mesh.tenancy.current import actor_label
from servers.storage import convert
from servers.storage.relational import quota, retention, trading
from servers.storage.rpc._base import OPERATOR, SERVICE, StorageRpcs, require, tenant_scope


class TradingRpcs(StorageRpcs):
    async def CreateBrokerAccount(
        self, request: storage_pb2.CreateBrokerAccountRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.CreateBrokerAccountResponse:
        account = await trading.create_broker_account(
            self._store, tenant_scope(), request.user_id, request.broker, request.account_number
        )
        return storage_pb2.CreateBrokerAccountResponse(account=convert.broker_account(account))

    async def RecordPositions(
        self, request: storage_pb2.RecordPositionsRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.RecordPositionsResponse:
        scope = tenant_scope()
        account_id, positions = convert.position_batch(request.positions)
        recorded = await trading.record_positions(self._store, scope, account_id, positions)
        usage = await quota.get_usage(self._store, scope)
        return storage_pb2.RecordPositionsResponse(
            position_ids=[p.id for p in recorded], storage_used_bytes=usage.used_bytes
        )

    async def ListPositions(
        self, request: storage_pb2.ListPositionsRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListPositionsResponse:
        records = await trading.list_positions(
            self._store,
            tenant_scope(),
            account_id=request.account_id or None,
            status=None if request.include_closed else trading.PositionStatus.OPEN,
            limit=request.limit or 1000,
        )
        return storage_pb2.ListPositionsResponse(positions=[convert.position(p) for p in records])

    async def GetStorageUsage(
        self, request: storage_pb2.GetStorageUsageRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.GetStorageUsageResponse:
        return convert.storage_usage(await quota.get_usage(self._store, tenant_scope()))

    async def ApplyRetention(
        self, request: storage_pb2.ApplyRetentionRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ApplyRetentionResponse:
        require(OPERATOR, SERVICE)
        at = as_of(request)
        if request.dry_run:
            raise InvalidArgument(
                "dry_run is not supported yet",
                violations=[FieldViolation("dry_run", "must be false")],
            )
        if request.company_id:
            results = [
                await retention.apply_retention(
                    self._store, request.company_id, now=at, actor=actor_label()
                )
            ]
        else:
            results = await retention.apply_retention_all(self._store, now=at, actor=actor_label())
        return storage_pb2.ApplyRetentionResponse(
            results=[convert.retention_result(r) for r in results]
        )
