import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from scrm import encryption


@pytest.fixture(autouse=True)
def _fresh_keys():
    encryption._fernet.cache_clear()
    yield
    encryption._fernet.cache_clear()


def test_round_trip_and_randomised_ciphertext():
    first, second = encryption.encrypt("s3cret"), encryption.encrypt("s3cret")

    assert first != second
    assert encryption.decrypt(first) == encryption.decrypt(second) == "s3cret"


def test_key_rotation_keeps_old_values_readable(settings):
    old_key = settings.SCRM_ENCRYPTION_KEYS[0]
    stored = encryption.encrypt("rotated")
    settings.SCRM_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    encryption._fernet.cache_clear()

    assert encryption.decrypt(stored) == "rotated"


def test_lost_key_is_a_clear_configuration_error(settings):
    stored = encryption.encrypt("gone")
    settings.SCRM_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    encryption._fernet.cache_clear()

    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        encryption.decrypt(stored)


@pytest.mark.parametrize(
    ("secret", "shown"), [("", ""), ("short", "••••"), ("abcdefghijkl", "••••••••ijkl")]
)
def test_mask(secret, shown):
    assert encryption.mask(secret) == shown
