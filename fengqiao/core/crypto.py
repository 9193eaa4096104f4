"""Field-level encryption for personal data (PIPL; ADR 0005).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under the keys in ``FENGQIAO_FIELD_KEYS``
(comma-separated; the first encrypts, all decrypt, so keys can be rotated). Exact lookups use a keyed
HMAC-SHA256 of the normalised value (``FENGQIAO_HASH_KEY``). Without those variables a development key pair is
generated once in ``FENGQIAO_KEY_DIR`` (outside the repository) and reused.
"""

import base64
import functools
import hashlib
import hmac
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "enc1:"


def _dev_key(name, make):
    key_dir = settings.KEY_DIR
    path = key_dir / name
    if not path.exists():
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
    return path.read_text().strip()


@functools.cache
def _fernet():
    raw = os.environ.get("FENGQIAO_FIELD_KEYS") or _dev_key("field-keys", lambda: Fernet.generate_key().decode())
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FENGQIAO_FIELD_KEYS holds an invalid Fernet key: {exc}") from None


@functools.cache
def _hash_key():
    raw = os.environ.get("FENGQIAO_HASH_KEY") or _dev_key(
        "hash-key", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()
    )
    return raw.encode()


def reset_key_cache():
    _fernet.cache_clear()
    _hash_key.cache_clear()


def encrypt(value: str) -> str:
    return PREFIX + _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    if not token.startswith(PREFIX):
        raise ValueError("value is not encrypted by fengqiao")
    try:
        return _fernet().decrypt(token[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured("cannot decrypt a stored value: the field keys do not match") from None


def lookup_hash(value: str) -> str:
    """Keyed hash for exact-match search on an encrypted value (normalised: stripped, no inner spaces)."""
    normalised = "".join(str(value).split()).upper()
    return hmac.new(_hash_key(), normalised.encode(), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """A text column whose plaintext never reaches the database."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)


def encrypt_bytes(data: bytes) -> bytes:
    """Encrypt a file's content with the field keys (photos of matters are stored this way)."""
    return _fernet().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return _fernet().decrypt(token)
    except InvalidToken:
        raise ImproperlyConfigured("cannot decrypt a stored file: the field keys do not match") from None


def rotate_bytes(token: bytes) -> bytes:
    """Re-encrypt with the first (newest) field key."""
    return _fernet().rotate(token)


# Encrypted files (photos of matters, …): apps register a function returning the storage names of theirs, so
# `fengqiao rotate-keys` re-encrypts them too.
ENCRYPTED_FILES: list = []


def register_encrypted_files(names_function):
    ENCRYPTED_FILES.append(names_function)


def rotate_files() -> int:
    """Re-encrypt every registered file under the first field key (each file replaced atomically; idempotent:
    a run that stops half-way leaves files readable with either key, and a second run finishes the job)."""
    import tempfile

    from django.core.files.storage import default_storage

    done = 0
    for names_function in ENCRYPTED_FILES:
        for name in sorted(set(names_function())):
            if not name or not default_storage.exists(name):
                continue
            path = default_storage.path(name)
            with open(path, "rb") as fh:
                token = fh.read()
            fresh = rotate_bytes(token)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".rotate-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(fresh)
            os.replace(tmp, path)
            done += 1
    return done
