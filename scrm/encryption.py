"""Encryption at rest for credentials (WeCom secrets, callback keys).

Fernet (AES-128-CBC + HMAC-SHA256) with keys from SCRM_ENCRYPTION_KEYS; the first key
encrypts, every key decrypts, so keys can be rotated. Values are never shown back in full:
`mask` gives the hint operators see.
"""

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "enc1:"


@cache
def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in settings.SCRM_ENCRYPTION_KEYS])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "SCRM_ENCRYPTION_KEYS must be url-safe base64 Fernet keys (32 bytes each)"
        ) from exc


def encrypt(plaintext: str) -> str:
    return PREFIX + _fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("value is not encrypted with scrm.encryption")
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "an encrypted credential cannot be decrypted with SCRM_ENCRYPTION_KEYS "
            "(was the key changed without keeping the old one?)"
        ) from exc


def rotated(stored: str) -> str:
    """The value encrypted again under the first key (unchanged plaintext)."""
    if not stored.startswith(PREFIX):
        raise ValueError("value is not encrypted with scrm.encryption")
    try:
        token = _fernet().rotate(stored[len(PREFIX) :].encode())
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "an encrypted credential cannot be decrypted with SCRM_ENCRYPTION_KEYS"
        ) from exc
    return PREFIX + token.decode()


def readable_with_first_key(stored: str) -> bool:
    """Whether the first key alone decrypts the value (so older keys can be retired)."""
    try:
        Fernet(settings.SCRM_ENCRYPTION_KEYS[0].encode()).decrypt(stored[len(PREFIX) :].encode())
    except InvalidToken:
        return False
    return True


def mask(plaintext: str) -> str:
    """What a person may see of a secret: its length class and last four characters."""
    if not plaintext:
        return ""
    if len(plaintext) <= 8:
        return "••••"
    return "••••••••" + plaintext[-4:]


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; Python code sees the plaintext."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
