"""The mesh CA, the service leaves and the identity proof, without gRPC."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509

from mesh.certs import LEAF_DAYS, CertsDir, identity_of, spiffe_id
from mesh.config import ConfigError, MeshConfig
from mesh.errors import Unauthenticated
from mesh.peer_identity import ServiceProver, ServiceVerifier
from mesh.transport import check_insecure_allowed, is_loopback


@pytest.fixture
def certs(tmp_path: Path) -> CertsDir:
    made = CertsDir(tmp_path / "certs")
    assert made.ensure(["bridge.internal"])
    return made


def leaf(certs: CertsDir, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(certs.leaf(name).cert.read_bytes())


def test_each_service_gets_a_leaf_naming_it_signed_by_the_ca(certs: CertsDir) -> None:
    ca = x509.load_pem_x509_certificate(certs.ca.read_bytes())
    for name in certs.names():
        cert = leaf(certs, name)
        cert.verify_directly_issued_by(ca)
        assert identity_of(cert) == name
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert spiffe_id(name) in san.get_values_for_type(x509.UniformResourceIdentifier)
        assert {"localhost", "bridge.internal"} <= set(san.get_values_for_type(x509.DNSName))
        assert (certs.leaf(name).key.stat().st_mode & 0o777) == 0o600
    assert ((certs.path / "ca.key").stat().st_mode & 0o777) == 0o600


def test_ensure_keeps_what_exists_and_rotate_replaces_leaves_only(certs: CertsDir) -> None:
    ca_before, bridge_before = certs.ca.read_bytes(), certs.leaf("bridge").cert.read_bytes()
    assert not certs.ensure()
    certs.rotate(["bridge"])
    assert certs.ca.read_bytes() == ca_before
    assert certs.leaf("bridge").cert.read_bytes() != bridge_before


def test_a_service_proves_its_own_identity(certs: CertsDir) -> None:
    envelope = b"signed context"
    pairs = ServiceProver(certs.leaf("bridge")).pairs(envelope)
    ServiceVerifier(certs.ca).verify("bridge", envelope, pairs)


@pytest.mark.parametrize(
    ("cert_of", "reason"),
    [(None, "SERVICE_CERTIFICATE_MISSING"), ("hub", "SERVICE_IDENTITY_MISMATCH")],
)
def test_a_claim_without_the_claimed_certificate_is_refused(
    certs: CertsDir, cert_of: str | None, reason: str
) -> None:
    envelope = b"signed context"
    pairs = ServiceProver(certs.leaf(cert_of)).pairs(envelope) if cert_of else []
    with pytest.raises(Unauthenticated) as refused:
        ServiceVerifier(certs.ca).verify("bridge", envelope, pairs)
    assert refused.value.reason == reason


def test_a_proof_is_bound_to_its_envelope_and_ca(certs: CertsDir, tmp_path: Path) -> None:
    pairs = ServiceProver(certs.leaf("bridge")).pairs(b"one context")
    with pytest.raises(Unauthenticated) as replayed:
        ServiceVerifier(certs.ca).verify("bridge", b"another context", pairs)
    assert replayed.value.reason == "SERVICE_PROOF_INVALID"
    other = CertsDir(tmp_path / "other")
    other.ensure()
    foreign = ServiceProver(other.leaf("bridge")).pairs(b"one context")
    with pytest.raises(Unauthenticated) as untrusted:
        ServiceVerifier(certs.ca).verify("bridge", b"one context", foreign)
    assert untrusted.value.reason == "SERVICE_CERTIFICATE_UNTRUSTED"


def test_a_prover_uses_a_rotated_certificate(certs: CertsDir) -> None:
    prover = ServiceProver(certs.leaf("bridge"))
    first = dict(prover.pairs(b"x"))
    certs.rotate(["bridge"])
    second = dict(prover.pairs(b"x"))
    assert first["x-tickmesh-service-cert-bin"] != second["x-tickmesh-service-cert-bin"]
    ServiceVerifier(certs.ca).verify("bridge", b"x", list(second.items()))


def test_plaintext_is_refused_off_loopback() -> None:
    check_insecure_allowed(MeshConfig(tls_insecure=True, host="127.0.0.1"))
    check_insecure_allowed(MeshConfig(tls_insecure=False, host="0.0.0.0"))
    with pytest.raises(ConfigError, match="only on loopback"):
        check_insecure_allowed(MeshConfig(tls_insecure=True, host="0.0.0.0"))
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("10.0.0.1")


def test_problems_name_expiry_a_foreign_leaf_and_an_open_key(
    certs: CertsDir, tmp_path: Path
) -> None:
    assert certs.problems() == []
    # A year on, every leaf has expired; eleven months on, they expire within 30 days.
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=LEAF_DAYS + 1)
    assert all("expired" in p for p in certs.problems(now=later))
    assert len(certs.problems(now=later)) == len(certs.names())
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=LEAF_DAYS - 10)
    assert "within 30 days" in certs.problems(now=soon)[0]
    # A leaf from another mesh's CA, and a key others can read.
    other = CertsDir(tmp_path / "other")
    other.ensure()
    hub = certs.leaf("hub")
    hub.cert.write_bytes(other.leaf("hub").cert.read_bytes())
    certs.leaf("bridge").key.chmod(0o644)
    assert certs.problems() == [
        f"{hub.cert} is not signed by {certs.ca}",
        f"{certs.leaf('bridge').key} is readable by others (want 0600)",
    ]
