"""Signed tenant-context envelopes: roundtrip, forgery, tampering, expiry, garbage, rotation."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from mesh.errors import Unauthenticated
from mesh.tenancy import signing
from mesh.tenancy.signing import ContextSigner

SECRET = b"mesh-secret-current-0123456789ab"
OLD_SECRET = b"mesh-secret-previous-0123456789a"
PAYLOAD = b"\x0a\x03acme\x12\x05alice\x18\x02\x22\x04k-01"  # any bytes: a proto, say


def reason_of(signer: ContextSigner, envelope: bytes | None) -> str:
    with pytest.raises(Unauthenticated) as caught:
        signer.verify(envelope)
    return caught.value.reason


def test_roundtrip_returns_the_payload(clock) -> None:
    signer = ContextSigner(SECRET, ttl_s=30, clock=clock)
    envelope = signer.sign(PAYLOAD)
    assert signer.verify(envelope) == PAYLOAD
    assert len(envelope) == len(PAYLOAD) + signing.OVERHEAD
    assert ContextSigner(SECRET, clock=clock).verify(signer.sign(b"")) == b""
    assert signing.METADATA_KEY.endswith("-bin")  # binary gRPC metadata


def test_forged_with_another_secret_is_a_bad_signature(clock) -> None:
    forged = ContextSigner(b"not-the-mesh-secret-0123456789ab", clock=clock).sign(PAYLOAD)
    assert reason_of(ContextSigner(SECRET, clock=clock), forged) == signing.REASON_BAD_SIGNATURE


def test_the_raw_secret_never_keys_the_mac(clock) -> None:
    envelope = ContextSigner(SECRET, clock=clock).sign(PAYLOAD)
    body, mac = envelope[:-32], envelope[-32:]
    assert hmac.new(SECRET, body, hashlib.sha256).digest() != mac
    assert hmac.new(signing.derive_key(SECRET), body, hashlib.sha256).digest() == mac


def test_every_single_bit_flip_is_refused(clock) -> None:
    signer = ContextSigner(SECRET, clock=clock)
    envelope = signer.sign(PAYLOAD)
    for bit in range(len(envelope) * 8):
        tampered = bytearray(envelope)
        tampered[bit // 8] ^= 1 << (bit % 8)
        reason = reason_of(signer, bytes(tampered))
        byte = bit // 8
        # Layout: version [0], expiry [1..8], length [9..10], payload, MAC.
        if byte in (0, 9, 10):  # version or length: structurally impossible
            assert reason == signing.REASON_MALFORMED, bit
        else:  # expiry, payload or MAC: only the MAC can tell
            assert reason == signing.REASON_BAD_SIGNATURE, bit


def test_expired_envelope_is_refused(clock) -> None:
    signer = ContextSigner(SECRET, ttl_s=30, clock=clock)
    envelope = signer.sign(PAYLOAD)
    clock.advance(30)
    assert signer.verify(envelope) == PAYLOAD  # valid through its expiry instant
    clock.advance(0.001)
    assert reason_of(signer, envelope) == signing.REASON_EXPIRED


def test_leeway_absorbs_clock_skew(clock) -> None:
    envelope = ContextSigner(SECRET, ttl_s=30, clock=clock).sign(PAYLOAD)
    clock.advance(31)
    assert ContextSigner(SECRET, clock=clock, leeway_s=2).verify(envelope) == PAYLOAD
    assert reason_of(ContextSigner(SECRET, clock=clock), envelope) == signing.REASON_EXPIRED


def test_missing_truncated_and_garbage_envelopes(clock) -> None:
    signer = ContextSigner(SECRET, clock=clock)
    envelope = signer.sign(PAYLOAD)
    assert reason_of(signer, None) == signing.REASON_MISSING
    assert reason_of(signer, b"") == signing.REASON_MISSING
    for cut in range(1, len(envelope)):
        assert reason_of(signer, envelope[:cut]) == signing.REASON_MALFORMED, cut
    assert reason_of(signer, envelope + b"\x00") == signing.REASON_MALFORMED
    assert reason_of(signer, b"Bearer sk_live_nonsense") == signing.REASON_MALFORMED
    assert reason_of(signer, b"\x02" + envelope[1:]) == signing.REASON_MALFORMED


def test_each_failure_has_its_own_message(clock) -> None:
    signer = ContextSigner(SECRET, ttl_s=1, clock=clock)
    envelope = signer.sign(PAYLOAD)
    cases = {
        "missing": None,
        "malformed": envelope[:5],
        "bad signature": envelope[:-1] + bytes([envelope[-1] ^ 1]),
    }
    messages = {}
    for word, bad in cases.items():
        with pytest.raises(Unauthenticated) as caught:
            signer.verify(bad)
        messages[word] = caught.value.message
    clock.advance(2)
    with pytest.raises(Unauthenticated) as caught:
        signer.verify(envelope)
    messages["expired"] = caught.value.message
    for word, message in messages.items():
        assert word in message, message
    assert len(set(messages.values())) == 4


def test_rotation_accepts_previous_secret_and_signs_with_current(clock) -> None:
    old = ContextSigner(OLD_SECRET, clock=clock)
    rotated = ContextSigner(SECRET, clock=clock, previous_secrets=[OLD_SECRET])
    assert rotated.verify(old.sign(PAYLOAD)) == PAYLOAD  # in-flight contexts survive
    assert ContextSigner(SECRET, clock=clock).verify(rotated.sign(PAYLOAD)) == PAYLOAD
    assert reason_of(old, rotated.sign(PAYLOAD)) == signing.REASON_BAD_SIGNATURE
    # Once the old secret is dropped, its envelopes stop working.
    after = ContextSigner(SECRET, clock=clock)
    assert reason_of(after, old.sign(PAYLOAD)) == signing.REASON_BAD_SIGNATURE


def test_weak_secret_and_oversized_payload_are_rejected(clock) -> None:
    with pytest.raises(ValueError, match="at least"):
        ContextSigner(b"short")
    with pytest.raises(ValueError, match="at most"):
        ContextSigner(SECRET, clock=clock).sign(b"x" * (signing.MAX_PAYLOAD + 1))
