"""HMAC-SHA256 envelopes that let a tenant context travel between services as metadata.

Envelope format, version 1 (all integers big-endian, 43 bytes of overhead):

    offset  size  field
    0       1     version = 0x01
    1       8     expiry, unix milliseconds (unsigned)
    9       2     payload length N (unsigned, so N <= 65535)
    11      N     payload (opaque: the serialized TenantContext proto)
    11+N    32    HMAC-SHA256(derived key, bytes[0 : 11+N])

The MAC covers the version, expiry and length as well as the payload, so none of
them can be altered. The key is derived per purpose from the mesh secret
(HMAC(secret, PURPOSE)), so the raw secret never keys a MAC and a MAC made for one
purpose can never be replayed as another. The signer does not care what produced
the payload; the gRPC glue passes proto bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import time
from collections.abc import Callable, Sequence

from mesh.errors import Unauthenticated

METADATA_KEY = "x-tickmesh-tenant-bin"
"""The binary (-bin) gRPC metadata key the envelope travels under."""

PURPOSE = b"tickmesh/tenant-context/v1"
VERSION = 1
MIN_SECRET_BYTES = 16

_HEADER = struct.Struct(">BQH")  # version, expiry ms, payload length
_MAC_BYTES = hashlib.sha256().digest_size
OVERHEAD = _HEADER.size + _MAC_BYTES
MAX_PAYLOAD = 0xFFFF

# Distinct ErrorInfo reasons, so callers (and dashboards) can tell the failures apart.
REASON_MISSING = "TENANT_CONTEXT_MISSING"
REASON_MALFORMED = "TENANT_CONTEXT_MALFORMED"
REASON_BAD_SIGNATURE = "TENANT_CONTEXT_BAD_SIGNATURE"
REASON_EXPIRED = "TENANT_CONTEXT_EXPIRED"


def derive_key(secret: bytes, purpose: bytes = PURPOSE) -> bytes:
    """A purpose-bound key from the mesh secret (HKDF-Expand with one block)."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"mesh secret must be at least {MIN_SECRET_BYTES} bytes")
    return hmac.new(secret, purpose + b"\x01", hashlib.sha256).digest()


class ContextSigner:
    """Signs payloads with the current secret; verifies with current or previous ones.

    Rotation: deploy the new secret with the old one in `previous_secrets`
    everywhere, then (after the TTL) drop the old one.
    """

    def __init__(
        self,
        secret: bytes,
        ttl_s: float = 30,
        clock: Callable[[], float] = time.time,
        *,
        previous_secrets: Sequence[bytes] = (),
        leeway_s: float = 0.0,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._signing_key = derive_key(secret)
        self._verify_keys = (self._signing_key, *(derive_key(s) for s in previous_secrets))
        self._ttl_ms = int(ttl_s * 1000)
        # Leeway absorbs clock skew between hosts; the expiry itself is signed.
        self._leeway_ms = int(leeway_s * 1000)
        self._clock = clock

    def sign(self, payload: bytes) -> bytes:
        """The envelope for `payload`, valid for ttl_s from now."""
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"payload is {len(payload)} bytes; at most {MAX_PAYLOAD} fit")
        expiry_ms = int(self._clock() * 1000) + self._ttl_ms
        body = _HEADER.pack(VERSION, expiry_ms, len(payload)) + payload
        return body + _mac(self._signing_key, body)

    def verify(self, envelope: bytes | None) -> bytes:
        """The payload of a genuine, unexpired envelope; else raises Unauthenticated."""
        if not envelope:
            raise Unauthenticated("tenant context is missing", reason=REASON_MISSING)
        if len(envelope) < OVERHEAD:
            raise _malformed(f"envelope is {len(envelope)} bytes, shorter than {OVERHEAD}")
        version, expiry_ms, length = _HEADER.unpack_from(envelope)
        if version != VERSION:
            raise _malformed(f"unsupported envelope version {version}")
        if len(envelope) != OVERHEAD + length:
            raise _malformed("envelope length does not match its payload length")
        body, mac = envelope[:-_MAC_BYTES], envelope[-_MAC_BYTES:]
        # Check every key, not first-match-and-stop, so timing does not reveal which
        # secret (current or previous) signed it.
        valid = False
        for key in self._verify_keys:
            valid |= hmac.compare_digest(_mac(key, body), mac)
        if not valid:
            raise Unauthenticated(
                "tenant context has a bad signature (forged or tampered)",
                reason=REASON_BAD_SIGNATURE,
            )
        # Expiry is checked only after the MAC, so a forger learns nothing from it.
        if int(self._clock() * 1000) > expiry_ms + self._leeway_ms:
            raise Unauthenticated("tenant context has expired", reason=REASON_EXPIRED)
        return envelope[_HEADER.size : _HEADER.size + length]


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def _malformed(detail: str) -> Unauthenticated:
    return Unauthenticated(f"tenant context is malformed: {detail}", reason=REASON_MALFORMED)
