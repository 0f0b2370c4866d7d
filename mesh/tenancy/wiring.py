"""Puts tenancy together for one server: signer, quotas, key resolution, relaying channels.

Every server calls `open_tenancy` once. Storage resolves API keys from its own
database; every other service asks Storage.AuthenticateKey over gRPC, signed as
itself. With a shared Redis the key cache is strict (a revocation is honoured
on the very next call everywhere); on the embedded default, which has no shared
cache, only Storage caches (and invalidates its own cache), so the other
services ask Storage on every authenticated call.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.channel_options import RECONNECT_OPTIONS
from mesh.client_interceptors import (
    MetadataPairs,
    SyncMetadataInterceptor,
    metadata_interceptors,
)
from mesh.config import ConfigError, MeshConfig, env_key
from mesh.context import current_request_id
from mesh.errors import Unauthenticated, Unavailable
from mesh.interceptors.auth import AuthInterceptor
from mesh.interceptors.metering import MeteringInterceptor
from mesh.interceptors.quota import QuotaInterceptor
from mesh.interceptors.request_id import REQUEST_ID_KEY
from mesh.metering.meter import Sender, UsageMeter
from mesh.metering.spool import Spool, spool_dir
from mesh.telemetry import configure_telemetry, tracer_for
from mesh.telemetry.client import sync_tracing_interceptors, tracing_interceptors
from mesh.tenancy.auth_cache import AuthCache, Resolver
from mesh.tenancy.authenticator import (
    Authenticator,
    KeyAuthenticator,
    relayed_caller,
    tenant_from_proto,
)
from mesh.tenancy.context import TenantContext
from mesh.tenancy.current import optional_principal
from mesh.tenancy.quota import QuotaStore
from mesh.tenancy.signing import METADATA_KEY, ContextSigner

log = logging.getLogger(__name__)

SIGNED_CONTEXT_TTL_S = 30.0
MESH_CHANNEL_OPTIONS = RECONNECT_OPTIONS
METER_DRAIN_S = 5.0
SINGLE_THREADED_UNARY_STREAM = grpc.experimental.ChannelOptions.SingleThreadedUnaryStream


@dataclass
class Tenancy:
    """A server's tenancy parts; `server_interceptors` go to build_server."""

    component: str
    signer: ContextSigner
    quota: QuotaStore
    cache: AuthCache | None
    server_interceptors: list[grpc.aio.ServerInterceptor]
    meter: UsageMeter | None = None
    """Usage of this process (API calls; the Bridge adds delivered ticks), to Storage."""
    _channels: list[grpc.aio.Channel] = field(default_factory=list)

    def channel(self, address: str) -> grpc.aio.Channel:
        """A channel whose calls carry this service's signed caller context, relaying the
        tenant (or operator) the current call acts for, and the request id."""
        interceptors = [*self._tracing(), *metadata_interceptors(self.relay_metadata)]
        channel = grpc.aio.insecure_channel(
            address, interceptors=interceptors, options=MESH_CHANNEL_OPTIONS
        )
        self._channels.append(channel)
        return channel

    def service_channel(self, address: str) -> grpc.aio.Channel:
        """A channel whose calls are signed as this service itself, for a service that has
        already authorized its caller and now reads on its own account."""
        interceptors = [*self._tracing(), *metadata_interceptors(self.service_metadata)]
        channel = grpc.aio.insecure_channel(
            address, interceptors=interceptors, options=MESH_CHANNEL_OPTIONS
        )
        self._channels.append(channel)
        return channel

    def blocking_service_channel(self, address: str) -> grpc.Channel:
        """service_channel for grpc's sync API, for a reader in a thread of its own (the
        Bridge's upstream). Its owner closes it.

        Its server streams are read on the reading thread itself (grpc's experimental
        SingleThreadedUnaryStream), not handed over by the channel's spin thread: one
        thread switch per message instead of two, ~3 % of a core less for the Bridge."""
        options = (*MESH_CHANNEL_OPTIONS, (SINGLE_THREADED_UNARY_STREAM, 1))
        channel = grpc.insecure_channel(address, options=options)
        return grpc.intercept_channel(
            channel,
            *sync_tracing_interceptors(tracer_for(self.component)),
            SyncMetadataInterceptor(self.service_metadata),
        )

    def _tracing(self) -> list[grpc.aio.ClientInterceptor]:
        # Outermost, so the client span covers the other interceptors' work too.
        return tracing_interceptors(tracer_for(self.component))

    def service_metadata(self) -> MetadataPairs:
        """Metadata signing an outgoing call as this service, acting for no one else."""
        return self._signed(relayed_caller(self.component, None))

    def relay_metadata(self) -> MetadataPairs:
        """Metadata for an outgoing call made while serving the current call."""
        return self._signed(relayed_caller(self.component, optional_principal()))

    def _signed(self, caller: bytes) -> MetadataPairs:
        envelope = self.signer.sign(caller)
        pairs: list[tuple[str, str | bytes]] = [(METADATA_KEY, envelope)]
        request_id = current_request_id()
        if request_id:
            pairs.append((REQUEST_ID_KEY, request_id))
        return pairs

    async def invalidate_company(self, company_id: str) -> None:
        """After a revocation or tier change: drop cached keys of the company everywhere."""
        if self.cache is not None:
            await self.cache.invalidate_company(company_id)

    async def aclose(self) -> None:
        if self.meter is not None:
            # Before the channels close: the last counters still reach Storage if it is up;
            # what cannot is kept in the spool and sent by the next run.
            await self.meter.stop(drain_timeout_s=METER_DRAIN_S)
        for channel in self._channels:
            await channel.close()
        if self.cache is not None:
            await self.cache.aclose()
        await self.quota.aclose()


async def open_tenancy(
    config: MeshConfig,
    component: str,
    *,
    authenticate_key: KeyAuthenticator | None = None,
    public_methods: Iterable[str] = (),
    usage_sender: Sender | None = None,
    instance: str | None = None,
) -> Tenancy:
    """Build tenancy for `component`.

    `authenticate_key` replaces the key lookup through Storage (Storage passes its own;
    tests pass one they control). `usage_sender` replaces Storage.RecordUsage as the
    meter's destination (Storage records its own usage directly). `instance` names this
    process's usage spool (default: the component and its configured port), so a
    restarted process resends what its previous life left unsent.
    """
    # Every server opens its tenancy first, before any of its channels exists.
    configure_telemetry(config, component)
    secret = config.mesh_secret
    if not secret:
        # Standalone runs still work; calls signed by other processes will not verify.
        log.warning("no mesh secret configured: service-to-service calls will be refused")
        secret = secrets.token_urlsafe(32)
    try:
        signer = ContextSigner(secret.encode(), ttl_s=SIGNED_CONTEXT_TTL_S)
    except ValueError as exc:
        raise ConfigError(f"{env_key('mesh_secret')}: {exc}") from None
    quota = await QuotaStore.connect(config.redis_url, prefix=config.redis_prefix)
    shared = quota.redis if config.redis_url else None
    tenancy = Tenancy(component, signer, quota, None, [])
    if authenticate_key is None:
        stub = storage_pb2_grpc.StorageServiceStub(tenancy.channel(config.address_of("storage")))
        authenticate_key = _storage_key_authenticator(stub)
    if shared is not None or component == "storage":
        cache = AuthCache(
            _as_resolver(authenticate_key), shared, prefix=config.redis_prefix, strict=True
        )
        await cache.start()
        tenancy.cache = cache
        authenticate_key = cache.authenticate
    authenticator = Authenticator(
        signer=signer, authenticate_key=authenticate_key, admin_key=config.admin_key
    )
    if usage_sender is None:
        stub = storage_pb2_grpc.StorageServiceStub(
            tenancy.service_channel(config.address_of("storage"))
        )

        async def usage_sender(
            request: storage_pb2.RecordUsageRequest,
        ) -> storage_pb2.RecordUsageResponse:
            return await stub.RecordUsage(request, timeout=10)

    spool = Spool(
        spool_dir(config.data_dir, component),
        instance or f"{component}-{config.port_of(component)}",
    )
    tenancy.meter = UsageMeter(
        component, spool, usage_sender, flush_interval_s=config.metering_flush_seconds
    )
    tenancy.meter.start()
    tenancy.server_interceptors = [
        AuthInterceptor(authenticator, public_methods),
        QuotaInterceptor(quota),
        MeteringInterceptor(tenancy.meter, component),
    ]
    return tenancy


def _as_resolver(authenticate: KeyAuthenticator) -> Resolver:
    async def resolve(api_key: str) -> TenantContext | None:
        return await authenticate(api_key)  # Unauthenticated carries the precise reason

    return resolve


def _storage_key_authenticator(stub: storage_pb2_grpc.StorageServiceStub) -> KeyAuthenticator:
    async def authenticate(api_key: str) -> TenantContext:
        try:
            # wait_for_ready: a Storage restarting (or a channel reconnecting) is waited for
            # within the deadline instead of failing the caller at once.
            reply = await stub.AuthenticateKey(
                storage_pb2.AuthenticateKeyRequest(api_key=api_key), timeout=5, wait_for_ready=True
            )
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise Unauthenticated(
                    err.details() or "API key refused", reason=_reason(err)
                ) from None
            raise Unavailable(
                f"cannot authenticate: Storage answered {err.code().name}", retry_after_s=1.0
            ) from None
        return tenant_from_proto(reply.tenant)

    return authenticate


def _reason(err: grpc.aio.AioRpcError) -> str:

    status = rpc_status.from_call(err)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return "API_KEY_INVALID"
