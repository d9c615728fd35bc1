"""Fixtures of the privacy tests: English service messages, API keys of the tenant."""

import pytest
from django_tenants.utils import schema_context

from accounts.models import APIKey
from orders.tests.conftest import api_key
from tagging.tests.conftest import _english_messages

__all__ = ["_english_messages", "api_key"]


@pytest.fixture
def write_key(db) -> dict[str, str]:
    """A read-write key that may read phone numbers."""
    return api_key(sees_phones=True)


@pytest.fixture
def masked_key(db) -> dict[str, str]:
    """A read-write key without the phone permission."""
    return api_key(sees_phones=False)


@pytest.fixture
def read_key(db) -> dict[str, str]:
    return api_key(scope=APIKey.Scope.READ, sees_phones=True)


@pytest.fixture
def alpha(db, tenant_a):
    with schema_context("alpha"):
        yield
