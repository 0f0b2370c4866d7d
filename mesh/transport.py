"""The one place that decides how the mesh's connections are secured.

Servers bind TLS with their service's certificate, re-read from disk when its mtime
changes (rotation without a restart), and request a client certificate without
requiring one: tenants and grpcurl have none, services present theirs (mutual TLS) and
the auth interceptor checks a service claim against it (mesh.peer_identity). Channels
trust the mesh CA only; a service's channel presents the service's own certificate.

Plaintext only when asked (`tls_insecure`, `--insecure`) and only on loopback.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import grpc

from mesh.certs import CA_FILE, CLIENT_NAME, CertsDir
from mesh.config import ConfigError, MeshConfig, env_key

log = logging.getLogger(__name__)

CA_ENV = "TICKMESH_CA"
"""Where client tools read the CA path from when no --ca is given."""


def certs_dir(config: MeshConfig) -> CertsDir:
    """The configured certs dir, default `<data dir>/certs`."""
    return CertsDir(config.tls_certs_dir or config.data_dir / "certs")


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_insecure_allowed(config: MeshConfig) -> None:
    """Refuse plaintext on an address other than loopback, naming the fix."""
    if config.tls_insecure and not is_loopback(config.host):
        raise ConfigError(
            f"{env_key('tls_insecure')}: plaintext is allowed only on loopback, and "
            f"{env_key('host')} is {config.host}: drop --insecure (use TLS) or bind 127.0.0.1"
        )


class _ReloadingIdentity:
    """Server certificate configuration re-read when the files' mtimes change."""

    def __init__(self, ca: Path, cert: Path, key: Path) -> None:
        self._paths = (ca, cert, key)
        self._lock = threading.Lock()
        self._stamp: tuple[int, ...] | None = None

    def _mtimes(self) -> tuple[int, ...]:
        return tuple(os.stat(p).st_mtime_ns for p in self._paths)

    def load(self) -> grpc.ServerCertificateConfiguration:
        ca, cert, key = (p.read_bytes() for p in self._paths)
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def initial(self) -> grpc.ServerCertificateConfiguration:
        with self._lock:
            self._stamp = self._mtimes()
            return self.load()

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        # gRPC calls this on each new handshake; None keeps the current configuration.
        try:
            with self._lock:
                stamp = self._mtimes()
                if stamp == self._stamp:
                    return None
                config = self.load()
                self._stamp = stamp
        except (OSError, ValueError) as exc:  # half-rotated: keep serving the old one
            log.warning("certificate reload failed, keeping the current one: %s", exc)
            return None
        log.info("certificate reloaded from %s", self._paths[1])
        return config


def server_credentials(config: MeshConfig, service: str) -> grpc.ServerCredentials | None:
    """TLS credentials for `service`'s port; None when the mesh runs plaintext."""
    check_insecure_allowed(config)
    if config.tls_insecure:
        return None
    certs = certs_dir(config)
    leaf = certs.leaf(service)
    missing = [p for p in (certs.ca, leaf.cert, leaf.key) if not p.exists()]
    if missing:
        raise ConfigError(
            f"{service}: no certificate at {missing[0]}: run `tickmesh certs create` "
            f"(or `tickmesh up`, which creates them), or pass --insecure on loopback"
        )
    identity = _ReloadingIdentity(certs.ca, leaf.cert, leaf.key)
    return grpc.dynamic_ssl_server_credentials(
        identity.initial(), identity.fetch, require_client_authentication=False
    )


def add_port(server: grpc.aio.Server, address: str, config: MeshConfig, service: str) -> int:
    """Bind `address` with the mesh's transport security; the bound port."""
    credentials = server_credentials(config, service)
    if credentials is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, credentials)


def channel_credentials(
    config: MeshConfig, identity: str | None = None
) -> grpc.ChannelCredentials | None:
    """Credentials that trust the mesh CA and present `identity`'s certificate (mutual
    TLS) when given; None when the mesh runs plaintext."""
    if config.tls_insecure:
        return None
    certs = certs_dir(config)
    ca = certs.ca.read_bytes()
    if identity is None:
        return grpc.ssl_channel_credentials(ca)
    leaf = certs.leaf(identity)
    return grpc.ssl_channel_credentials(ca, leaf.key.read_bytes(), leaf.cert.read_bytes())


def aio_channel(
    address: str,
    config: MeshConfig,
    identity: str | None = None,
    *,
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
    options: Sequence[tuple[str, object]] = (),
) -> grpc.aio.Channel:
    """An asyncio channel to a mesh address, secured as the mesh is configured."""
    credentials = channel_credentials(config, identity)
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(address, credentials, options=options, interceptors=interceptors)


def blocking_channel(
    address: str,
    config: MeshConfig,
    identity: str | None = None,
    *,
    options: Sequence[tuple[str, object]] = (),
) -> grpc.Channel:
    """A sync channel to a mesh address, secured as the mesh is configured."""
    credentials = channel_credentials(config, identity)
    if credentials is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, credentials, options=options)


# --- client tools (SDK, CLI, console) -----------------------------------------------------


def default_ca(data_dir: Path) -> Path:
    return data_dir / "certs" / CA_FILE


def client_credentials(ca: Path | None) -> grpc.ChannelCredentials | None:
    """TLS trusting `ca` for a client tool; None (plaintext) when `ca` is None."""
    if ca is None:
        return None
    try:
        return grpc.ssl_channel_credentials(ca.read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"cannot read the mesh CA {ca}: {exc.strerror}; pass --ca <data dir>/certs/{CA_FILE} "
            f"(printed by `tickmesh up`) or set {CA_ENV}"
        ) from None


def client_aio_channel(
    address: str,
    ca: Path | None,
    *,
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
    options: Sequence[tuple[str, object]] = (),
) -> grpc.aio.Channel:
    """A client tool's channel: TLS trusting `ca`, plaintext when `ca` is None."""
    credentials = client_credentials(ca)
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(address, credentials, options=options, interceptors=interceptors)


UNTRUSTED_HINT = "server certificate not trusted: pass --ca {ca} (printed by `tickmesh up`)"


def explain_handshake(error: grpc.RpcError, ca_hint: str = ".tickmesh/certs/ca.pem") -> str:
    """A client-facing message for a failed call, naming the fix when the TLS handshake
    failed (wrong or missing CA, or TLS against a plaintext server)."""
    details = (error.details() or "") if isinstance(error, grpc.Call) else str(error)
    lowered = details.lower()
    if any(s in lowered for s in ("ssl", "handshake", "certificate", "tls")):
        return f"{UNTRUSTED_HINT.format(ca=ca_hint)} ({details})"
    return details


__all__ = [
    "CA_ENV",
    "CLIENT_NAME",
    "add_port",
    "aio_channel",
    "blocking_channel",
    "certs_dir",
    "channel_credentials",
    "check_insecure_allowed",
    "client_aio_channel",
    "client_credentials",
    "default_ca",
    "explain_handshake",
    "is_loopback",
    "server_credentials",
]
