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


def test_rotating_the_key_lets_the_old_key_retire(db, settings, tenant_a):
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django_tenants.utils import schema_context

    from tenants.models import WeComApp, WeComCorp

    with schema_context("public"):
        corp = WeComCorp.objects.create(tenant=tenant_a, corp_id="wwrotate0001")
        WeComApp.objects.create(
            corp=corp,
            kind="customer_contact",
            agent_id=1000002,
            secret="corp-secret-before-rotation",
            callback_token="token-before",
            encoding_aes_key="R" * 43,
        )
    old_key = settings.SCRM_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()

    # 1. the new key first, the old one kept: nothing breaks, the check says what is left
    settings.SCRM_ENCRYPTION_KEYS = [new_key, old_key]
    encryption._fernet.cache_clear()
    with pytest.raises(CommandError, match="3 values still need an old key"):
        call_command("encryption_rotate", "--check", stdout=StringIO())

    # 2. rotate: every value re-encrypted with the new key
    out = StringIO()
    call_command("encryption_rotate", stdout=out)
    assert "3 of 3 encrypted values re-encrypted" in out.getvalue()
    call_command("encryption_rotate", "--check", stdout=StringIO())

    # 3. the old key retired: the corp's credentials still decrypt
    settings.SCRM_ENCRYPTION_KEYS = [new_key]
    encryption._fernet.cache_clear()
    with schema_context("public"):
        app = WeComApp.objects.get(corp=corp)
    assert app.secret == "corp-secret-before-rotation"
    assert app.callback_token == "token-before"
    assert app.encoding_aes_key == "R" * 43
    # and rotating again changes nothing
    again = StringIO()
    call_command("encryption_rotate", stdout=again)
    assert "0 of 3" in again.getvalue()
