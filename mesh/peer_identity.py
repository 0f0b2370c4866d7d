"""A service's identity on a call: its mesh certificate and a proof it holds the key.

Why not the TLS client certificate alone: grpcio's Python server credentials either
require a client certificate or never ask for one (there is no "request, don't require"
mode), and every service port is also a client-facing port where tenants and grpcurl
come without a certificate. So a service's channel runs TLS trusting the mesh CA, and
each call claiming to come from a service carries that service's certificate and an
ECDSA signature, made with the certificate's key, over the call's signed context (which
itself expires after 30 s). The receiving server accepts the claim only if the
certificate chains to the mesh CA, is valid now, names the claimed service in its
`spiffe://tickmesh/<service>` SAN, and the signature verifies: another service's
certificate, or none, is refused with UNAUTHENTICATED and a reason.
"""

from __future__ import annotations

import datetime
import functools
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mesh.certs import CertPaths, identity_of
from mesh.context import MetadataValue
from mesh.errors import Unauthenticated

CERT_KEY = "x-tickmesh-service-cert-bin"
PROOF_KEY = "x-tickmesh-service-proof-bin"
_SIGNATURE = ec.ECDSA(hashes.SHA256())


class ServiceProver:
    """Signs outgoing service calls with the service's leaf; re-reads it when rotated."""

    def __init__(self, paths: CertPaths) -> None:
        self._paths = paths
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._cert_der = b""
        self._key: ec.EllipticCurvePrivateKey | None = None

    def _current(self) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
        stamp = (os.stat(self._paths.cert).st_mtime_ns, os.stat(self._paths.key).st_mtime_ns)
        with self._lock:
            if stamp != self._stamp or self._key is None:
                cert = x509.load_pem_x509_certificate(self._paths.cert.read_bytes())
                key = serialization.load_pem_private_key(self._paths.key.read_bytes(), None)
                if not isinstance(key, ec.EllipticCurvePrivateKey):
                    raise ValueError(f"{self._paths.key}: expected an EC private key")
                self._cert_der = cert.public_bytes(serialization.Encoding.DER)
                self._key, self._stamp = key, stamp
            return self._cert_der, self._key

    def pairs(self, envelope: bytes) -> list[tuple[str, str | bytes]]:
        """The metadata proving this service sent `envelope` (its signed context)."""
        cert, key = self._current()
        return [(CERT_KEY, cert), (PROOF_KEY, key.sign(envelope, _SIGNATURE))]


class ServiceVerifier:
    """Checks a call's service claim against the certificate it presents."""

    def __init__(self, ca_path: Path) -> None:
        self._ca_path = ca_path
        self._ca_stamp = 0
        self._ca: x509.Certificate | None = None

    def _ca_cert(self) -> x509.Certificate:
        stamp = os.stat(self._ca_path).st_mtime_ns
        if self._ca is None or stamp != self._ca_stamp:
            self._ca = x509.load_pem_x509_certificate(self._ca_path.read_bytes())
            self._ca_stamp = stamp
            _issued.cache_clear()
        return self._ca

    def verify(
        self, claimed: str, envelope: bytes, metadata: Iterable[tuple[str, MetadataValue]]
    ) -> None:
        """Raise Unauthenticated unless the call proves it comes from service `claimed`."""
        cert_der = proof = None
        for key, value in metadata:
            if key == CERT_KEY and isinstance(value, bytes):
                cert_der = value
            elif key == PROOF_KEY and isinstance(value, bytes):
                proof = value
        if cert_der is None or proof is None:
            raise Unauthenticated(
                f"a call claiming to be service {claimed!r} presented no mesh certificate",
                reason="SERVICE_CERTIFICATE_MISSING",
            )
        cert = _issued(cert_der, self._ca_cert())
        now = datetime.datetime.now(datetime.UTC)
        if cert is None or not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise Unauthenticated(
                "the presented service certificate is not issued by this mesh's CA, or expired",
                reason="SERVICE_CERTIFICATE_UNTRUSTED",
            )
        identity = identity_of(cert)
        if identity != claimed:
            raise Unauthenticated(
                f"a call claiming to be service {claimed!r} presented the certificate of "
                f"{identity!r}",
                reason="SERVICE_IDENTITY_MISMATCH",
            )
        public = cert.public_key()
        try:
            if not isinstance(public, ec.EllipticCurvePublicKey):
                raise InvalidSignature
            public.verify(proof, envelope, _SIGNATURE)
        except InvalidSignature:
            raise Unauthenticated(
                f"the proof of service {claimed!r} does not verify with its certificate",
                reason="SERVICE_PROOF_INVALID",
            ) from None


@functools.lru_cache(maxsize=256)
def _issued(cert_der: bytes, ca: x509.Certificate) -> x509.Certificate | None:
    """`cert_der` parsed when `ca` issued it; cached, since every service call presents
    one of a handful of certificates."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return None
    return cert
