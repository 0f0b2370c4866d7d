"""TLS for client tools: trust the mesh CA `tickmesh up` prints, and say so when it is missing.

The CA comes from `--ca`, else TICKMESH_CA, else `<data dir>/certs/ca.pem` (where `up`
creates it); a mesh started with `--insecure` is reached in plaintext.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc

from mesh.config import MeshConfig

CA_ENV = "TICKMESH_CA"
_HANDSHAKE_WORDS = ("handshake", "ssl", "certificate", "tls")


def default_ca(config: MeshConfig, env: Mapping[str, str] | None = None) -> Path | None:
    """The CA a client tool trusts by default; None when the mesh runs plaintext."""
    env = os.environ if env is None else env
    if env.get(CA_ENV):
        return Path(env[CA_ENV]).expanduser()
    if config.tls_insecure:
        return None
    return (config.tls_certs_dir or config.data_dir / "certs") / "ca.pem"


def channel(
    target: str,
    ca: Path | None,
    *,
    options: Sequence[tuple[str, Any]] = (),
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
) -> grpc.aio.Channel:
    """An asyncio channel to `target`: TLS trusting `ca`, plaintext when `ca` is None."""
    if ca is None:
        return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
    try:
        pem = Path(ca).read_bytes()
    except OSError as exc:
        raise ValueError(
            f"cannot read the mesh CA {ca} ({exc.strerror}): pass --ca <data dir>/certs/ca.pem "
            f"as printed by `tickmesh up`, or set {CA_ENV}"
        ) from None
    credentials = grpc.ssl_channel_credentials(pem)
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=interceptors)


def handshake_failed(message: str) -> bool:
    """Whether a failure reads as a TLS handshake failure (untrusted or plaintext server)."""
    lowered = message.lower()
    return any(word in lowered for word in _HANDSHAKE_WORDS)


def untrusted_hint(ca: Path | None) -> str:
    """The fix for a failed handshake, naming the CA to pass."""
    where = ca if ca is not None else ".tickmesh/certs/ca.pem"
    return f"server certificate not trusted: pass --ca {where} (printed by `tickmesh up`)"
