"""The audit log's Ed25519 key: load it, sign checkpoints and DSSE envelopes, describe it.

Where the key comes from, in order: AUDIT_SIGNING_KEY (a PEM private key, or the base64 of a
raw 32-byte seed), AUDIT_SIGNING_KEY_FILE (a PEM file; `manage.py generate_audit_key` writes
one). With neither, the embedded default uses var/audit-signing-key.pem and creates it on first
use with a warning: fine on a laptop, wrong in production, where a lost or changed key means
old checkpoints can no longer be checked against the published public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

# `cryptography` (~7 MB a process) is imported by the functions that use the key, not here: every
# web and worker process imports this module (the compliance evidence and proofs name it), while
# only sealing, attestations and the key's endpoints sign or verify.

logger = logging.getLogger(__name__)

#: The first line of every signed checkpoint note: names the log and the note's format.
ORIGIN = "gatehouse.dev/audit/v1"
DSSE_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def generate_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_key_file(path: Path) -> None:
    """Create a new PEM key file readable by its owner only; refuse to overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(generate_pem())


def _parse(material: bytes, source: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    text = material.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(text, password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ImproperlyConfigured(
            f"{source} is not an Ed25519 private key (PEM, or base64 of 32 bytes): {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{source} holds a {type(key).__name__}, not an Ed25519 key.")
    return key


def _load() -> Ed25519PrivateKey:
    inline = getattr(settings, "AUDIT_SIGNING_KEY", "")
    if inline:
        return _parse(inline.encode(), "AUDIT_SIGNING_KEY")
    configured = getattr(settings, "AUDIT_SIGNING_KEY_FILE", "")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise ImproperlyConfigured(
                f"AUDIT_SIGNING_KEY_FILE={path} does not exist: create it with "
                f"`manage.py generate_audit_key --out {path}` (and keep a copy), or unset it.")
        return _parse(path.read_bytes(), f"AUDIT_SIGNING_KEY_FILE={path}")
    path = Path(settings.VAR_DIR) / "audit-signing-key.pem"
    if not path.exists():
        try:
            write_key_file(path)
            logger.warning(
                "Created an audit signing key at %s (embedded default). In production set "
                "AUDIT_SIGNING_KEY_FILE to a key made by `manage.py generate_audit_key`.", path)
        except FileExistsError:  # another process created it first
            pass
    return _parse(path.read_bytes(), str(path))


@lru_cache(maxsize=1)
def private_key() -> Ed25519PrivateKey:
    return _load()


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def public_key_raw() -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization

    return public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id() -> str:
    """sha256 of the raw public key, hex: names the key in checkpoints and envelopes."""
    return hashlib.sha256(public_key_raw()).hexdigest()


def sign(data: bytes) -> str:
    return base64.b64encode(private_key().sign(data)).decode()


def verify(data: bytes, signature_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public_key().verify(base64.b64decode(signature_b64, validate=True), data)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def checkpoint_note(tree_size: int, root_hash: str, timestamp: str) -> bytes:
    """The exact bytes a checkpoint's signature covers (the verifier rebuilds them)."""
    return f"{ORIGIN}\n{tree_size}\n{root_hash}\n{timestamp}\n".encode()


def dsse_pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what a DSSE signature covers."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def dsse_envelope(payload: bytes, payload_type: str = DSSE_PAYLOAD_TYPE) -> dict:
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_id(), "sig": sign(dsse_pae(payload_type, payload))}],
    }


def describe() -> dict:
    """The public half, as the API publishes it."""
    return {"algorithm": "Ed25519", "key_id": key_id(), "public_key_pem": public_key_pem(),
            "public_key": base64.b64encode(public_key_raw()).decode(), "origin": ORIGIN}
