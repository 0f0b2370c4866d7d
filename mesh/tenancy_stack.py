"""The tenancy stack of one server: key resolution, quotas, the usage meter, and the server
interceptors over them.

The service host opens one per server. Storage resolves API keys from its own
database; every other service asks Storage.AuthenticateKey over gRPC, signed as
itself. With a shared Redis (configured, or the one `tickmesh up` starts) the key
cache is strict (a revocation is honoured on the very next call everywhere); a
server with no Redis URL has no shared cache, so only Storage caches (and
invalidates its own cache), and the other services ask Storage on every call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.channels import MeshChannels
from mesh.config import SERVICES, MeshConfig
from mesh.connectivity import reconnected as storage_reconnected
from mesh.errors import Unauthenticated, Unavailable
from mesh.interceptors.auth import AuthInterceptor
from mesh.interceptors.idempotency import IdempotencyInterceptor
from mesh.interceptors.metering import MeteringInterceptor
from mesh.interceptors.permissions import PermissionInterceptor
from mesh.interceptors.quota import QuotaInterceptor
from mesh.interceptors.tier_pool import TierPoolInterceptor
from mesh.metering.meter import Sender, UsageMeter
from mesh.metering.spool import Spool, spool_dir
from mesh.peer_identity import ServiceVerifier
from mesh.pool_directory import PoolDirectory
from mesh.tenancy.auth_cache import AuthCache, Resolver
from mesh.tenancy.authenticator import Authenticator, KeyAuthenticator, tenant_from_proto
from mesh.tenancy.context import TenantContext
from mesh.tenancy.permissions import Scope
from mesh.tenancy.quota import QuotaStore
from mesh.tenancy.quota_events import QuotaEvents
from mesh.tiers import Tier
from mesh.transport import certs_dir

METER_DRAIN_S = 5.0


@dataclass(frozen=True, slots=True)
class TenancyOptions:
    """How a server's tenancy differs from the default; None keeps the default."""

    authenticate_key: KeyAuthenticator | None = None
    """Resolves API keys instead of Storage.AuthenticateKey (Storage passes its own
    store; tests pass one they control)."""

    usage_sender: Sender | None = None
    """Receives metered usage instead of Storage.RecordUsage (Storage records its own
    usage directly)."""

    public_methods: Collection[str] = ()
    """Method paths callable without a credential."""

    instance: str | None = None
    """Names this process's usage spool (default: the component and its configured port),
    so a restarted process resends what its previous life left unsent."""

    own_services: Collection[str] | None = None
    """The services whose calls this server counts against the daily quota and meters;
    None: every service it answers. The Hub names its own: a call it only routes is
    counted and metered by the service it reaches, which authenticates it again."""

    tenant_rpcs: Mapping[str, Scope | None] | None = None
    """Tenant RPCs beyond the mesh's table (mesh.tenancy.permissions.TENANT_RPCS), for
    a service with a contract of its own: method path -> scope (None: any tenant)."""

    def merged(self, overrides: TenancyOptions | None) -> TenancyOptions:
        """These options with every field `overrides` sets replaced."""
        if overrides is None:
            return self
        changes = {
            f.name: getattr(overrides, f.name)
            for f in dataclasses.fields(overrides)
            if getattr(overrides, f.name) not in (None, ())
        }
        return dataclasses.replace(self, **changes)


@dataclass
class Tenancy:
    """A server's tenancy parts; `server_interceptors` go to its server."""

    quota: QuotaStore
    cache: AuthCache | None
    meter: UsageMeter
    """Usage of this process (API calls; the Bridge adds delivered ticks), to Storage."""
    server_interceptors: list[grpc.aio.ServerInterceptor]
    instance: str
    """This process's name among its component's replicas (its usage spool's name)."""
    authenticate_key: KeyAuthenticator
    """What the server's authenticator resolves API keys with (through the cache)."""
    quota_events: QuotaEvents
    """Reports quota thresholds crossed by this server's calls (webhook events)."""

    async def invalidate_company(self, company_id: str) -> None:
        """After a revocation or tier change: drop cached keys of the company everywhere."""
        if self.cache is not None:
            await self.cache.invalidate_company(company_id)

    async def aclose(self) -> None:
        # The meter before the channels close (the host closes them after this): the last
        # counters still reach Storage if it is up; what cannot is kept in the spool and
        # sent by the next run.
        await self.meter.stop(drain_timeout_s=METER_DRAIN_S)
        await self.quota_events.drain()
        if self.cache is not None:
            await self.cache.aclose()
        await self.quota.aclose()


async def open_tenancy(
    config: MeshConfig, channels: MeshChannels, options: TenancyOptions = TenancyOptions()
) -> Tenancy:
    """Connect the quota store, start the meter, and build the auth, quota and metering
    interceptors for the server of `channels.component`."""
    component = channels.component
    quota = await QuotaStore.connect(config.redis_url, prefix=config.redis_prefix)
    authenticate_key = options.authenticate_key
    if authenticate_key is None:
        stub = storage_pb2_grpc.StorageServiceStub(channels.channel(config.address_of("storage")))
        authenticate_key = _storage_key_authenticator(stub)
    cache = None
    shared = quota.redis if config.redis_url else None
    if shared is not None or component == "storage":
        cache = AuthCache(
            _as_resolver(authenticate_key), shared, prefix=config.redis_prefix, strict=True,
            outage=quota.outage,
        )  # fmt: skip
        await cache.start()
        authenticate_key = cache.authenticate
    authenticator = Authenticator(
        signer=channels.signer,
        authenticate_key=authenticate_key,
        admin_key=config.admin_key,
        service_verifier=None if config.tls_insecure else ServiceVerifier(certs_dir(config).ca),
    )
    usage_sender = options.usage_sender
    reconnected = None
    if usage_sender is None:
        usage_channel = channels.service_channel(config.address_of("storage"))
        usage_stub = storage_pb2_grpc.StorageServiceStub(usage_channel)
        # Resend the backlog as soon as Storage is back, not when a backoff timer fires.
        reconnected = storage_reconnected(usage_channel)

        async def usage_sender(
            request: storage_pb2.RecordUsageRequest,
        ) -> storage_pb2.RecordUsageResponse:
            return await usage_stub.RecordUsage(request, timeout=10)

    port = config.port_of(component) if component in SERVICES else 0
    instance = options.instance or f"{component}-{port}"
    spool = Spool(spool_dir(config.data_dir, component), instance)
    meter = UsageMeter(
        component,
        spool,
        usage_sender,
        flush_interval_s=config.metering_flush_seconds,
        reconnected=reconnected,
    )
    meter.start()
    events_stub = storage_pb2_grpc.StorageServiceStub(
        channels.service_channel(config.address_of("storage"))
    )
    quota_events = QuotaEvents(lambda request: events_stub.EmitEvent(request, timeout=5))
    interceptors: list[grpc.aio.ServerInterceptor] = [
        AuthInterceptor(authenticator, options.public_methods),
        *_pool_guard(config, channels),
        PermissionInterceptor(options.tenant_rpcs).scoped_to(options.own_services),
        QuotaInterceptor(quota, quota_events).scoped_to(options.own_services),
        MeteringInterceptor(meter, component).scoped_to(options.own_services),
        # Innermost: a repeat is answered from the store only once the caller is verified.
        IdempotencyInterceptor(quota.redis, config.redis_prefix),
    ]
    return Tenancy(quota, cache, meter, interceptors, instance, authenticate_key, quota_events)


def _pool_guard(config: MeshConfig, channels: MeshChannels) -> list[TierPoolInterceptor]:
    """For a server in a tier pool (instance_pool), the interceptor that turns other tiers
    away, naming from the Hub's registry where their pool is."""
    if not config.instance_pool:
        return []
    directory = None
    if config.hub_address:
        hub = hub_pb2_grpc.HubServiceStub(channels.service_channel(config.hub_address))
        request = hub_pb2.ListInstancesRequest(service=channels.component)
        directory = PoolDirectory(lambda: hub.ListInstances(request, timeout=1))
    tiers = [Tier(name) for name in config.instance_pool]
    return [TierPoolInterceptor(channels.component, tiers, directory)]


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
