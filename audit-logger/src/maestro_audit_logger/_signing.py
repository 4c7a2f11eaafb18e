"""Signing sealed-segment digests: HMAC-SHA256 (shared secret) or Ed25519 (the verifying host
holds only the public key, so a writer that can edit files cannot forge digests).

Ed25519 needs the ``signing`` extra (``cryptography``), imported only when used.
"""

# ruff: noqa: PLC0415, PLR0911  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Protocol

from maestro_audit_logger._errors import AuditConfigError


def _need_cryptography() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise AuditConfigError(
            "Ed25519 signing needs the cryptography package: pip install 'maestro-audit-logger[signing]'"
        ) from None
    return ed25519


def _check_key_id(key_id: str) -> None:
    if not isinstance(key_id, str) or not key_id or len(key_id) > 128 or not key_id.isprintable():
        raise AuditConfigError(f"key_id must be a non-empty printable string, got {key_id!r}")


class Signer(Protocol):
    """What a digest signer provides (`HmacSigner`, `Ed25519Signer` or your own, e.g. a KMS)."""

    @property
    def key_id(self) -> str:
        """The id verifiers look the key up by."""

    @property
    def algorithm(self) -> str:
        """``hmac-sha256`` or ``ed25519``."""

    def sign(self, data: bytes) -> str:
        """The signature over ``data``, base64."""


class HmacSigner:
    """Signs digests with HMAC-SHA256: anyone who can verify can also sign.

    Args:
        key: the secret, at least 32 bytes.
        key_id: the name verifiers look the key up by.

    Examples:
        >>> import secrets
        >>> from maestro_audit_logger import HmacSigner, Keyring
        >>> key = secrets.token_bytes(32)
        >>> signer = HmacSigner(key, "k1")  # give it to JsonlFileSink(signer=...) or SqliteSink(signer=...)
        >>> Keyring().add_hmac("k1", key).verify(signer.algorithm, "k1", b"digest", signer.sign(b"digest"))
        True
    """

    algorithm = "hmac-sha256"

    def __init__(self, key: bytes, key_id: str) -> None:
        if not isinstance(key, bytes) or len(key) < 32:
            raise AuditConfigError("key must be bytes of at least 32 bytes (use secrets.token_bytes(32))")
        _check_key_id(key_id)
        self._key = key
        self.key_id = key_id

    def sign(self, data: bytes) -> str:
        """HMAC-SHA256 of ``data`` under the key, base64."""
        return base64.b64encode(hmac.new(self._key, data, hashlib.sha256).digest()).decode()


class Ed25519Signer:
    """Signs digests with an Ed25519 private key; verifiers need only the public key.

    Args:
        private_key: the 32-byte raw private key (see `generate`).
        key_id: the name verifiers look the public key up by.

    Examples:
        Needs the ``signing`` extra (``pip install 'maestro-audit-logger[signing]'``):

        >>> from maestro_audit_logger import Ed25519Signer, Keyring
        >>> signer = Ed25519Signer(Ed25519Signer.generate(), "ed-1")
        >>> ring = Keyring().add_ed25519("ed-1", signer.public_key())  # all a verifier needs
        >>> ring.verify("ed25519", "ed-1", b"digest", signer.sign(b"digest"))
        True
    """

    algorithm = "ed25519"

    def __init__(self, private_key: bytes, key_id: str) -> None:
        ed25519 = _need_cryptography()
        if not isinstance(private_key, bytes) or len(private_key) != 32:
            raise AuditConfigError("private_key must be the 32 raw bytes of an Ed25519 private key")
        _check_key_id(key_id)
        self._key = ed25519.Ed25519PrivateKey.from_private_bytes(private_key)
        self.key_id = key_id

    @staticmethod
    def generate() -> bytes:
        """A new random 32-byte raw Ed25519 private key."""
        import os

        _need_cryptography()
        return os.urandom(32)

    def public_key(self) -> bytes:
        """The 32-byte raw public key to give verifiers."""
        from cryptography.hazmat.primitives import serialization

        raw: bytes = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return raw

    def sign(self, data: bytes) -> str:
        """Ed25519 signature over ``data``, base64."""
        return base64.b64encode(self._key.sign(data)).decode()


@dataclass
class Keyring:
    """Verification keys by ``key_id``: HMAC secrets and Ed25519 public keys.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, HmacSigner, JsonlFileSink, Keyring, verify
        >>> key = b"s" * 32  # in production: secrets.token_bytes(32), kept in a secret store
        >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> with AuditLogger(JsonlFileSink(path, signer=HmacSigner(key, "k1")), service="billing") as audit:
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> verify(path, keys=Keyring().add_hmac("k1", key)).ok
        True
        >>> verify(path, keys=Keyring().add_hmac("k1", b"x" * 32)).first.kind
        'checkpoint_signature'
    """

    hmac_keys: dict[str, bytes] = field(default_factory=dict)
    ed25519_keys: dict[str, bytes] = field(default_factory=dict)

    def add_hmac(self, key_id: str, key: bytes) -> Keyring:
        """Add an HMAC secret; returns the keyring for chaining."""
        _check_key_id(key_id)
        self.hmac_keys[key_id] = key
        return self

    def add_ed25519(self, key_id: str, public_key: bytes) -> Keyring:
        """Add a raw 32-byte Ed25519 public key; returns the keyring for chaining."""
        _check_key_id(key_id)
        if len(public_key) != 32:
            raise AuditConfigError("an Ed25519 public key is 32 raw bytes")
        self.ed25519_keys[key_id] = public_key
        return self

    def __bool__(self) -> bool:
        return bool(self.hmac_keys or self.ed25519_keys)

    def verify(self, algorithm: str, key_id: str, data: bytes, signature: str) -> bool | None:
        """True when valid, False when invalid, None when the key is unknown."""
        try:
            sig = base64.b64decode(signature, validate=True)
        except (ValueError, TypeError):
            return False
        if algorithm == "hmac-sha256":
            key = self.hmac_keys.get(key_id)
            if key is None:
                return None
            return hmac.compare_digest(hmac.new(key, data, hashlib.sha256).digest(), sig)
        if algorithm == "ed25519":
            pub = self.ed25519_keys.get(key_id)
            if pub is None:
                return None
            ed25519 = _need_cryptography()
            from cryptography.exceptions import InvalidSignature

            try:
                ed25519.Ed25519PublicKey.from_public_bytes(pub).verify(sig, data)
            except InvalidSignature:
                return False
            return True
        return False
