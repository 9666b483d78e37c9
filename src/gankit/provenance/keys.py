"""A local certificate authority and the signing certificate it issues, for C2PA manifests.

C2PA refuses a self-signed signing certificate, so ``init_keys`` makes two: a root CA (kept to
verify with, ``--trust ca.pem``) and a P-256 leaf it issues with the key usages C2PA asks for
(digitalSignature, emailProtection, CA=false, key identifiers). Private keys are written with mode
0600. Users with their own certificate pass ``cert``/``key`` to ``load_signer`` instead.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from gankit.errors import GankitError

VALID_DAYS = 3650


@dataclass(frozen=True)
class KeyPaths:
    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def cert(self) -> Path:      # the signing certificate chain: leaf, then CA
        return self.folder / "signer.pem"

    @property
    def key(self) -> Path:
        return self.folder / "signer.key"

    def all(self) -> tuple[Path, ...]:
        return self.ca_cert, self.ca_key, self.cert, self.key


def default_key_dir() -> Path:
    """$GANKIT_KEYS, else $XDG_CONFIG_HOME/gankit/keys, else ~/.config/gankit/keys."""
    if os.environ.get("GANKIT_KEYS"):
        return Path(os.environ["GANKIT_KEYS"])
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "gankit" / "keys"


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gankit (local)")])


def _usage(**on: bool):
    from cryptography import x509
    flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                 key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)
    return x509.KeyUsage(**{**flags, **on})


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)  # also when the file existed (with --force) under another mode


def init_keys(folder: str | Path | None = None, force: bool = False, name: str = "gankit signer") -> KeyPaths:
    """Make the local CA and signing certificate in ``folder`` (default: default_key_dir())."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    paths = KeyPaths(Path(folder) if folder else default_key_dir())
    existing = [p for p in paths.all() if p.exists()]
    if existing and not force:
        raise GankitError(f"keys already exist in {paths.folder} ({', '.join(p.name for p in existing)}); "
                          f"they are kept: pass --force to replace them (images signed with them stay verifiable "
                          f"only with the old ca.pem)")
    paths.folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = dict(not_valid_before=now - datetime.timedelta(days=1), not_valid_after=now + datetime.timedelta(days=VALID_DAYS))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("gankit local CA")).issuer_name(_name("gankit local CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(valid["not_valid_before"]).not_valid_after(valid["not_valid_after"])
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(valid["not_valid_before"]).not_valid_after(valid["not_valid_after"])
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))

    def pem(cert) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def private(k) -> bytes:
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    _write_private(paths.ca_key, private(ca_key))
    _write_private(paths.key, private(key))
    paths.ca_cert.write_bytes(pem(ca))
    paths.cert.write_bytes(pem(leaf) + pem(ca))
    return paths


def _read_pem(path: Path, what: str, marker: bytes) -> bytes:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise GankitError(f"{what} {path} does not exist; make keys with `gankit keys init` or pass your own "
                          f"with --cert and --key") from None
    except OSError as exc:
        raise GankitError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if marker not in data:
        raise GankitError(f"{what} {path} is not a PEM file (no '{marker.decode()}' block)")
    return data


def load_signer(cert: str | Path | None = None, key: str | Path | None = None):
    """A c2pa Signer (ES256) from a certificate chain and its private key (default: init_keys' files)."""
    import c2pa
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    paths = KeyPaths(default_key_dir())
    cert, key = Path(cert or paths.cert), Path(key or paths.key)
    chain = _read_pem(cert, "certificate", b"-----BEGIN CERTIFICATE-----")
    key_pem = _read_pem(key, "private key", b"PRIVATE KEY-----")
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise GankitError(f"private key {key} cannot be read ({exc}); it must be an unencrypted PEM key") from None
    if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
        raise GankitError(f"private key {key} is not a P-256 (ES256) key; gankit signs with ES256")
    try:
        return c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key_pem, None))
    except c2pa.C2paError as exc:
        raise GankitError(f"cannot sign with {cert} and {key}: {exc}") from None
