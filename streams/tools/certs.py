"""A throwaway certificate authority for the local secured broker (tests, demos).

One CA signs the broker's certificate (valid for 127.0.0.1 and localhost) and one client
certificate per principal (its common name is the principal: `User:CN=<name>` to Kafka's
default mapping). Everything is PEM, which both Kafka (`ssl.*.type=PEM`) and Python's ssl
module read directly. EC P-256 keys: quick to make, accepted by TLS 1.2 and 1.3.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 30  # long enough for any test run or demo, short enough to be harmless


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, each in its own PEM file (0600)."""

    certfile: Path
    keyfile: Path

    def chain_text(self) -> str:
        """The key then the certificate in one PEM text (Kafka's PEM keystore file)."""
        return self.keyfile.read_text() + self.certfile.read_text()


@dataclass(frozen=True)
class CertificateAuthority:
    certfile: Path
    keyfile: Path

    @classmethod
    def create(cls, directory: Path, name: str = "leadscore local CA") -> CertificateAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(name)
        cert = (
            _builder(subject, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .sign(key, hashes.SHA256())
        )
        authority = cls(directory / "ca.pem", directory / "ca.key")
        write_private(authority.certfile, cert.public_bytes(serialization.Encoding.PEM))
        write_private(authority.keyfile, _key_bytes(key))
        return authority

    def issue(self, directory: Path, common_name: str, *, server: bool = False) -> KeyPair:
        """A certificate for `common_name`: a server one (SANs 127.0.0.1 and localhost, both
        server and client use, as a broker is also a client of itself) or a client one."""
        ca_key = serialization.load_pem_private_key(self.keyfile.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(self.certfile.read_bytes())
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = _builder(_name(common_name), ca_cert.subject, key.public_key())
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        pair = KeyPair(directory / f"{common_name}.pem", directory / f"{common_name}.key")
        write_private(pair.certfile, cert.public_bytes(serialization.Encoding.PEM))
        write_private(pair.keyfile, _key_bytes(key))
        return pair


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks a little apart
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _key_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    # Unencrypted PKCS#8: the form Kafka's PEM keystore reads without ssl.key.password.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private(path: Path, data: bytes) -> None:
    """Write a secret's file readable by its owner only (0600 before any byte lands)."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)
