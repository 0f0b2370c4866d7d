"""Everything the console knows about the mesh, read through public RPCs with the
caller's own key (the operator key, or a tenant's API key), so the services' own
authorization decides what each login may see: a tenant key can never read another
company, whatever URL the browser asks for."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc
from tickmesh.workflow.v1 import chains_pb2, chains_pb2_grpc, lifecycle_pb2, lifecycle_pb2_grpc

from clients import tls
from mesh.client_interceptors import api_key_interceptors
from mesh.config import MeshConfig

TIMEOUT_S = 3.0
MAX_SYMBOLS = 500  # what one Subscribe accepts

_TIER_NAMES = {1: "free", 2: "pro", 3: "enterprise"}


def as_dict(message: Message) -> dict[str, Any]:
    """A reply as the page's JSON (field names as in the .proto)."""
    return MessageToDict(message, preserving_proto_field_name=True)


class MeshReader:
    """One channel per (address, key), reused across page loads and live samples."""

    def __init__(self, config: MeshConfig) -> None:
        self.config = config
        self._ca = tls.default_ca(config)
        self._channels: dict[tuple[str, str], grpc.aio.Channel] = {}

    def channel(self, address: str, key: str) -> grpc.aio.Channel:
        ch = self._channels.get((address, key))
        if ch is None:
            # TLS trusting the mesh CA (plaintext only for a mesh started --insecure).
            ch = tls.channel(address, self._ca, interceptors=api_key_interceptors(key))
            self._channels[(address, key)] = ch
        return ch

    async def close(self) -> None:
        await asyncio.gather(*(ch.close() for ch in self._channels.values()))
        self._channels.clear()

    def _at(self, service: str, key: str) -> grpc.aio.Channel:
        return self.channel(self.config.address_of(service), key)

    # --- who is logging in

    async def company_of(self, key: str) -> storage_pb2.Company:
        """The company a tenant key belongs to (raises AioRpcError for a bad key)."""
        stub = storage_pb2_grpc.StorageServiceStub(self._at("storage", key))
        reply = await stub.GetCompany(storage_pb2.GetCompanyRequest(), timeout=TIMEOUT_S)
        return reply.company

    async def is_operator(self, key: str) -> bool:
        """Whether `key` may read the mesh's metrics (only the operator key may)."""
        stub = hub_pb2_grpc.HubServiceStub(self._at("hub", key))
        try:
            await stub.GetMeshMetrics(hub_pb2.GetMeshMetricsRequest(), timeout=TIMEOUT_S)
        except grpc.aio.AioRpcError:
            return False
        return True

    # --- operator panels

    async def instances(self, key: str) -> list[hub_pb2.Instance]:
        stub = hub_pb2_grpc.HubServiceStub(self._at("hub", key))
        reply = await stub.ListInstances(hub_pb2.ListInstancesRequest(), timeout=TIMEOUT_S)
        return list(reply.instances)

    async def companies(self, key: str) -> list[storage_pb2.Company]:
        stub = storage_pb2_grpc.StorageServiceStub(self._at("storage", key))
        out: list[storage_pb2.Company] = []
        token = ""
        while True:
            reply = await stub.ListCompanies(
                storage_pb2.ListCompaniesRequest(page_size=1000, page_token=token),
                timeout=TIMEOUT_S,
            )
            out.extend(reply.companies)
            token = reply.next_page_token
            if not token:
                return out

    async def operator_panels(self, key: str) -> dict[str, Any]:
        """The operator page's slower panels; a panel whose service fails says why."""
        hub = hub_pb2_grpc.HubServiceStub(self._at("hub", key))
        billing = billing_pb2_grpc.BillingServiceStub(self._at("billing", key))
        workflow = lifecycle_pb2_grpc.LifecycleServiceStub(self._at("workflow", key))
        ingestion = ingestion_pb2_grpc.IngestionServiceStub(self._at("ingestion", key))
        storage = storage_pb2_grpc.StorageServiceStub(self._at("storage", key))
        chains = chains_pb2_grpc.ChainServiceStub(self._at("workflow", key))
        period = datetime.now(UTC).strftime("%Y-%m")
        calls: dict[str, Awaitable[Message]] = {
            "sla_figures": storage.QuerySla(
                storage_pb2.QuerySlaRequest(billing_period=period), timeout=TIMEOUT_S
            ),
            "catalog": billing.GetTierCatalog(
                billing_pb2.GetTierCatalogRequest(), timeout=TIMEOUT_S
            ),
            "sla_report": billing.SlaReport(billing_pb2.SlaReportRequest(), timeout=TIMEOUT_S),
            "runs": chains.ListRuns(chains_pb2.ListRunsRequest(), timeout=TIMEOUT_S),
            "metrics": hub.GetMeshMetrics(hub_pb2.GetMeshMetricsRequest(), timeout=TIMEOUT_S),
            "revenue": billing.RevenueReport(billing_pb2.RevenueReportRequest(), timeout=TIMEOUT_S),
            "schedules": workflow.ListSchedules(
                lifecycle_pb2.ListSchedulesRequest(), timeout=TIMEOUT_S
            ),
            "brokers": ingestion.GetBrokerStatus(
                ingestion_pb2.GetBrokerStatusRequest(), timeout=TIMEOUT_S
            ),
            "churn": billing.ChurnRisk(billing_pb2.ChurnRiskRequest(), timeout=TIMEOUT_S),
            "upsell": billing.UpsellCandidates(
                billing_pb2.UpsellCandidatesRequest(), timeout=TIMEOUT_S
            ),
        }
        results = await asyncio.gather(*calls.values(), return_exceptions=True)
        return {name: _panel(result) for name, result in zip(calls, results, strict=True)}

    # --- usage, for both views

    async def bridge_totals(
        self, key: str, bridges: list[str], company_ids: list[str]
    ) -> dict[tuple[str, str], tuple[int, int, int]]:
        """(ticks delivered this period, open streams, streams refused at the quota since
        the Bridge started) per (bridge address, company)."""

        async def one(address: str, company_id: str) -> tuple[int, int, int] | None:
            stub = bridge_pb2_grpc.BridgeServiceStub(self.channel(address, key))
            try:
                reply = await stub.GetUsage(
                    bridge_pb2.GetUsageRequest(company_id=company_id), timeout=TIMEOUT_S
                )
            except grpc.aio.AioRpcError:
                return None  # a Bridge going away: it leaves the rates, not the page
            return reply.ticks_delivered, reply.open_streams, reply.streams_refused

        pairs = [(a, c) for a in bridges for c in company_ids]
        replies = await asyncio.gather(*(one(a, c) for a, c in pairs))
        return {p: r for p, r in zip(pairs, replies, strict=True) if r is not None}

    async def tenant_panels(self, key: str, company_id: str) -> dict[str, Any]:
        """A company's keys, webhooks and their deliveries, invoices, stored data,
        subscription and SLA report, read with the caller's key (all but the invoices are
        the caller's own: an operator sees those as errors)."""
        billing = billing_pb2_grpc.BillingServiceStub(self._at("billing", key))
        storage = storage_pb2_grpc.StorageServiceStub(self._at("storage", key))
        calls: dict[str, Awaitable[Message]] = {
            "keys": storage.ListApiKeys(storage_pb2.ListApiKeysRequest(), timeout=TIMEOUT_S),
            "webhooks": storage.ListWebhookEndpoints(
                storage_pb2.ListWebhookEndpointsRequest(), timeout=TIMEOUT_S
            ),
            "deliveries": storage.ListWebhookAttempts(
                storage_pb2.ListWebhookAttemptsRequest(), timeout=TIMEOUT_S
            ),
            "invoices": billing.ListInvoices(
                billing_pb2.ListInvoicesRequest(company_id=company_id), timeout=TIMEOUT_S
            ),
            "storage": storage.GetStorageUsage(
                storage_pb2.GetStorageUsageRequest(), timeout=TIMEOUT_S
            ),
            "subscription": storage.GetSubscription(
                storage_pb2.GetSubscriptionRequest(), timeout=TIMEOUT_S
            ),
            "sla": billing.SlaReport(billing_pb2.SlaReportRequest(), timeout=TIMEOUT_S),
        }
        results = await asyncio.gather(*calls.values(), return_exceptions=True)
        return {name: _panel(result) for name, result in zip(calls, results, strict=True)}

    async def symbols(self, key: str) -> list[str]:
        """Every symbol the aggregator knows (the Bridge then keeps the key's tier's)."""
        stub = ingestion_pb2_grpc.IngestionServiceStub(self._at("ingestion", key))
        reply = await stub.ListSymbols(ingestion_pb2.ListSymbolsRequest(), timeout=TIMEOUT_S)
        return [s.symbol for s in reply.symbols][:MAX_SYMBOLS]

    def subscribe(
        self, key: str, bridge: str, symbols: list[str]
    ) -> grpc.aio.UnaryStreamCall[bridge_pb2.SubscribeRequest, bridge_pb2.SubscribeResponse]:
        """A live subscription with the caller's key, best effort: the Bridge grants the
        key's tier's symbols, fields and rate, and leaves the others out (the ack says)."""
        stub = bridge_pb2_grpc.BridgeServiceStub(self.channel(bridge, key))
        return stub.Subscribe(
            bridge_pb2.SubscribeRequest(
                symbols=symbols, options=bridge_pb2.SubscribeOptions(best_effort=True)
            )
        )

    async def company(self, key: str, company_id: str) -> storage_pb2.Company:
        """One company as `key` may see it: NOT_FOUND for a tenant asking for another."""
        stub = storage_pb2_grpc.StorageServiceStub(self._at("storage", key))
        reply = await stub.GetCompany(
            storage_pb2.GetCompanyRequest(company_id=company_id), timeout=TIMEOUT_S
        )
        return reply.company


def tier_name(tier: int) -> str:
    return _TIER_NAMES.get(tier, "unknown")


def _panel(result: Message | BaseException) -> dict[str, Any]:
    if isinstance(result, grpc.aio.AioRpcError):
        return {"error": f"{result.code().name}: {result.details()}"}
    if isinstance(result, BaseException):
        return {"error": f"{type(result).__name__}: {result}"}
    return as_dict(result)
