"""Channels from one service to the others, every call signed as that service.

Two kinds of call leave a service: one made while serving a caller relays that caller
(the tenant or operator it acts for) inside the signed context; one made on the
service's own account (registration, a read Billing already authorized, the Bridge's
upstream) names no one else. Both carry the request id and the trace context.
"""

from __future__ import annotations

import logging
import secrets

import grpc

from mesh.channel_options import RECONNECT_OPTIONS
from mesh.client_interceptors import (
    MetadataPairs,
    MetadataProvider,
    SyncMetadataInterceptor,
    metadata_interceptors,
)
from mesh.config import ConfigError, MeshConfig, env_key
from mesh.context import current_request_id
from mesh.interceptors.request_id import REQUEST_ID_KEY
from mesh.peer_identity import ServiceProver
from mesh.telemetry import tracer_for
from mesh.telemetry.client import sync_tracing_interceptors, tracing_interceptors
from mesh.tenancy.authenticator import relayed_caller
from mesh.tenancy.current import optional_principal
from mesh.tenancy.signing import METADATA_KEY, ContextSigner
from mesh.transport import aio_channel, blocking_channel, certs_dir

log = logging.getLogger(__name__)

SIGNED_CONTEXT_TTL_S = 30.0
# Subchannels are shared process-wide, so a channel with other options (gRPC's defaults)
# to the same peer would impose its reconnect backoff on ours: each of ours keeps its own.
CHANNEL_OPTIONS = (("grpc.use_local_subchannel_pool", 1), *RECONNECT_OPTIONS)
SINGLE_THREADED_UNARY_STREAM = grpc.experimental.ChannelOptions.SingleThreadedUnaryStream


def mesh_signer(config: MeshConfig) -> ContextSigner:
    """The signer of this mesh's secret. Without one (a standalone run) a random secret
    signs: the process works alone, and its calls to other processes are refused."""
    secret = config.mesh_secret
    if not secret:
        log.warning("no mesh secret configured: service-to-service calls will be refused")
        secret = secrets.token_urlsafe(32)
    try:
        return ContextSigner(secret.encode(), ttl_s=SIGNED_CONTEXT_TTL_S)
    except ValueError as exc:
        raise ConfigError(f"{env_key('mesh_secret')}: {exc}") from None


class MeshChannels:
    """Opens channels signed as `component`; closes them all in aclose().

    With `config` (and TLS on) the channels trust the mesh CA and every signed context
    carries `component`'s certificate and proof of its key (mesh.peer_identity); without
    one (tests of a single process) they are plaintext."""

    def __init__(
        self, component: str, signer: ContextSigner, config: MeshConfig | None = None
    ) -> None:
        self.component = component
        self.signer = signer
        self._config = config if config is not None else MeshConfig(tls_insecure=True)
        self._prover = None
        if not self._config.tls_insecure and component in certs_dir(self._config).names():
            self._prover = ServiceProver(certs_dir(self._config).leaf(component))
        self._channels: list[grpc.aio.Channel] = []

    def channel(self, address: str) -> grpc.aio.Channel:
        """A channel whose calls relay the tenant (or operator) the current call acts for."""
        return self._open(address, self.relay_metadata)

    def service_channel(self, address: str) -> grpc.aio.Channel:
        """A channel whose calls act for this service itself, for a service that has
        already authorized its caller and now reads on its own account."""
        return self._open(address, self.service_metadata)

    def _open(self, address: str, metadata: MetadataProvider) -> grpc.aio.Channel:
        # Tracing outermost, so the client span covers the other interceptors' work too.
        interceptors = [
            *tracing_interceptors(tracer_for(self.component)),
            *metadata_interceptors(metadata),
        ]
        channel = aio_channel(
            address, self._config, interceptors=interceptors, options=CHANNEL_OPTIONS
        )
        self._channels.append(channel)
        return channel

    def blocking_service_channel(self, address: str) -> grpc.Channel:
        """service_channel for grpc's sync API, for a reader in a thread of its own (the
        Bridge's upstream). Its owner closes it.

        Its server streams are read on the reading thread itself (grpc's experimental
        SingleThreadedUnaryStream), not handed over by the channel's spin thread: one
        thread switch per message instead of two, ~3 % of a core less for the Bridge."""
        options = (*CHANNEL_OPTIONS, (SINGLE_THREADED_UNARY_STREAM, 1))
        channel = blocking_channel(address, self._config, options=options)
        return grpc.intercept_channel(
            channel,
            *sync_tracing_interceptors(tracer_for(self.component)),
            SyncMetadataInterceptor(self.service_metadata),
        )

    def service_metadata(self) -> MetadataPairs:
        """Metadata signing an outgoing call as this service, acting for no one else."""
        return self._signed(relayed_caller(self.component, None))

    def relay_metadata(self) -> MetadataPairs:
        """Metadata for an outgoing call made while serving the current call."""
        return self._signed(relayed_caller(self.component, optional_principal()))

    def _signed(self, caller: bytes) -> MetadataPairs:
        envelope = self.signer.sign(caller)
        pairs: list[tuple[str, str | bytes]] = [(METADATA_KEY, envelope)]
        if self._prover is not None:
            pairs.extend(self._prover.pairs(envelope))
        request_id = current_request_id()
        if request_id:
            pairs.append((REQUEST_ID_KEY, request_id))
        return pairs

    async def aclose(self) -> None:
        """Close every aio channel this opened."""
        channels, self._channels = self._channels, []
        for channel in channels:
            await channel.close()
