"""The one place that decides how the mesh's connections are secured.

Servers bind TLS with their service's certificate, re-read from disk when its mtime
changes (rotation without a restart). Channels trust the mesh CA only. A service's
identity travels as its certificate plus a proof of its key in each call's metadata
(mesh.peer_identity), not as a TLS client certificate: grpcio's Python server either
requires one on a port or never asks for it, and every port also serves tenants and
reflection tools that have none.

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

from mesh.certs import CertsDir
from mesh.config import ConfigError, MeshConfig, env_key

log = logging.getLogger(__name__)

CA_ENV = "TICKMESH_CA"
"""Where client tools read the CA path from when no --ca is given (clients/tls.py)."""


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


def channel_credentials(config: MeshConfig) -> grpc.ChannelCredentials | None:
    """Credentials that trust the mesh CA; None when the mesh runs plaintext."""
    if config.tls_insecure:
        return None
    return grpc.ssl_channel_credentials(certs_dir(config).ca.read_bytes())


def aio_channel(
    address: str,
    config: MeshConfig,
    *,
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
    options: Sequence[tuple[str, object]] = (),
    service: str | None = None,
) -> grpc.aio.Channel:
    """An asyncio channel to a mesh address, secured as the mesh is configured.

    `service`: the server is an instance of that mesh service, so its certificate is
    checked for the service's name (every leaf carries it) rather than the address's host:
    an instance registers its pod IP, which no certificate made beforehand can name."""
    credentials = channel_credentials(config)
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
    if service is not None:
        options = (*options, ("grpc.ssl_target_name_override", service))
    return grpc.aio.secure_channel(address, credentials, options=options, interceptors=interceptors)


def blocking_channel(
    address: str,
    config: MeshConfig,
    *,
    options: Sequence[tuple[str, object]] = (),
) -> grpc.Channel:
    """A sync channel to a mesh address, secured as the mesh is configured."""
    credentials = channel_credentials(config)
    if credentials is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, credentials, options=options)
