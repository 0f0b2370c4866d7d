"""The mesh's certificates: one CA per data dir, one leaf per service, one for operator tools.

Layout of `<certs dir>` (default `<data dir>/certs`):
  ca.pem, ca.key           the mesh CA (EC P-256); ca.key never leaves this directory
  <name>.pem, <name>.key   a leaf for each service, and `client` for operator tools

Each leaf names its owner the way Linkerd and Istio users expect: a SAN URI
`spiffe://tickmesh/<name>` (the identity the servers check), plus DNS `localhost`, IP
127.0.0.1, the service's name (its host in compose and Kubernetes) and any extra
host names, so clients reach a service by its address. Keys are
written 0600. Rotation writes new leaves (same CA) next to the old ones atomically: the
servers reload files whose mtime changed (mesh.transport), so rotation needs no restart.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mesh.config import SERVICES

TRUST_DOMAIN = "tickmesh"
CLIENT_NAME = "client"
CA_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_WITHIN = datetime.timedelta(days=30)
"""`tickmesh doctor` warns when a certificate expires sooner than this."""


def spiffe_id(name: str) -> str:
    """The SAN URI that names service (or tool) `name`: spiffe://tickmesh/<name>."""
    return f"spiffe://{TRUST_DOMAIN}/{name}"


def identity_of(cert: x509.Certificate) -> str | None:
    """The service name in `cert`'s spiffe://tickmesh/ SAN URI, None when it has none."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    prefix = spiffe_id("")
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(prefix) and len(uri) > len(prefix):
            return uri[len(prefix) :]
    return None


@dataclass(frozen=True, slots=True)
class CertPaths:
    """Where one identity's certificate and key live."""

    cert: Path
    key: Path


class CertsDir:
    """A directory of mesh certificates: creates, reads and rotates them."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def ca(self) -> Path:
        return self.path / CA_FILE

    def leaf(self, name: str) -> CertPaths:
        return CertPaths(self.path / f"{name}.pem", self.path / f"{name}.key")

    def names(self) -> tuple[str, ...]:
        """Every identity this mesh issues a leaf to."""
        return (*SERVICES, CLIENT_NAME)

    def complete(self) -> bool:
        return self.ca.exists() and all(self.leaf(n).cert.exists() for n in self.names())

    def ensure(self, hosts: Sequence[str] = ()) -> bool:
        """Create the CA and every missing leaf; True when anything was created."""
        created = False
        if not self.ca.exists():
            self._write_ca()
            created = True
        for name in self.names():
            if not self.leaf(name).cert.exists():
                self.issue(name, hosts)
                created = True
        return created

    def rotate(self, names: Iterable[str] | None = None, hosts: Sequence[str] = ()) -> None:
        """Issue new leaves (new keys, same CA) for `names` (default: all)."""
        for name in names or self.names():
            self.issue(name, hosts)

    def issue(self, name: str, hosts: Sequence[str] = ()) -> CertPaths:
        """A new key and leaf for `name`, signed by this directory's CA."""
        ca_cert, ca_key = self._load_ca()
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        names: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(spiffe_id(name)),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        # The service's own name too: its host name in compose and a Kubernetes Service.
        extra = [name, *hosts] if name in SERVICES else list(hosts)
        for host in extra:
            entry = _general_name(host)
            if entry not in names:
                names.append(entry)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # A minute of slack for clocks a little behind the issuer's.
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        paths = self.leaf(name)
        # Key first: a reader that sees the new certificate must find its key.
        _write_atomic(paths.key, _key_pem(key), 0o600)
        _write_atomic(paths.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return paths

    def _write_ca(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tickmesh mesh CA")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_CA_KEY_USAGE, critical=True)
            .sign(key, hashes.SHA256())
        )
        _write_atomic(self.path / CA_KEY_FILE, _key_pem(key), 0o600)
        _write_atomic(self.ca, cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def _load_ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        cert = x509.load_pem_x509_certificate(self.ca.read_bytes())
        key = serialization.load_pem_private_key((self.path / CA_KEY_FILE).read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{self.path / CA_KEY_FILE}: expected an EC private key")
        return cert, key

    def problems(
        self, now: datetime.datetime | None = None, soon: datetime.timedelta = RENEW_WITHIN
    ) -> list[str]:
        """What is wrong with the certificates, one line each (none: all good): missing
        files, a leaf not signed by this CA, expired or expiring within `soon`, a key
        other users can read. For `tickmesh doctor`."""
        now = now or datetime.datetime.now(datetime.UTC)
        if not self.ca.exists():
            return [f"{self.ca} missing"]
        found = []
        ca = x509.load_pem_x509_certificate(self.ca.read_bytes())
        found += _expiry(self.ca, ca, now, soon)
        for name in self.names():
            paths = self.leaf(name)
            if not paths.cert.exists() or not paths.key.exists():
                found.append(f"{paths.cert if not paths.cert.exists() else paths.key} missing")
                continue
            cert = x509.load_pem_x509_certificate(paths.cert.read_bytes())
            try:
                cert.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                found.append(f"{paths.cert} is not signed by {self.ca}")
            found += _expiry(paths.cert, cert, now, soon)
            if paths.key.stat().st_mode & 0o077:
                found.append(f"{paths.key} is readable by others (want 0600)")
        return found

    def describe(self) -> list[str]:
        """One line per certificate: file, identity, expiry (for `tickmesh certs show`)."""
        lines = []
        for path in [self.ca, *(self.leaf(n).cert for n in self.names())]:
            if not path.exists():
                lines.append(f"{path}: missing")
                continue
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            who = identity_of(cert) or cert.subject.rfc4514_string()
            expires = cert.not_valid_after_utc.strftime("%Y-%m-%d")
            lines.append(f"{path}: {who}, expires {expires}")
        return lines


def _expiry(
    path: Path, cert: x509.Certificate, now: datetime.datetime, soon: datetime.timedelta
) -> list[str]:
    ends = cert.not_valid_after_utc
    if ends <= now:
        return [f"{path} expired {ends:%Y-%m-%d}"]
    if ends - now <= soon:
        return [f"{path} expires {ends:%Y-%m-%d}, within {soon.days} days"]
    return []


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write `path` by rename, so a reloading server never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.replace(tmp, path)
