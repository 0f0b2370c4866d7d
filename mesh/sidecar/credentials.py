"""The sidecar's credential: read once from a file, attached to every call it forwards.

The application's own credentials are dropped, not forwarded: whoever can reach the
sidecar acts with the sidecar's key, and must not pose as another tenant (a key of its
own) or as a mesh service (a signed tenant context).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mesh.forwarding import Metadata, MetadataIn, forwarded_metadata
from mesh.tenancy.authenticator import AUTHORIZATION
from mesh.tenancy.signing import METADATA_KEY as SIGNED_CONTEXT_KEY

FORGEABLE = frozenset({AUTHORIZATION, SIGNED_CONTEXT_KEY})
"""Metadata keys the application may not send through the sidecar."""


class KeyFileError(Exception):
    """The key file cannot be used; the message says why (never the key)."""


def read_key_file(path: Path) -> str:
    """The API key in `path`: its only line, surrounding whitespace ignored."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeyFileError(f"cannot read the key file {path}: {exc.strerror}") from None
    key = text.strip()
    if not key or any(c.isspace() for c in key):
        raise KeyFileError(f"the key file {path} must hold exactly one API key (tm_...)")
    return key


def key_metadata(key: str) -> Metadata:
    """The metadata presenting `key`."""
    return ((AUTHORIZATION, f"Bearer {key}"),)


def with_key(key: str) -> Callable[[MetadataIn], Metadata]:
    """The application's metadata for the next hop: forwarded as the Hub forwards it,
    minus what it may not forge, plus the sidecar's key."""
    presented = key_metadata(key)

    def outgoing(metadata: MetadataIn) -> Metadata:
        kept = tuple((k, v) for k, v in forwarded_metadata(metadata) if k not in FORGEABLE)
        return kept + presented

    return outgoing
