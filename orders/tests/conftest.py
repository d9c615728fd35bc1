"""Fixtures of the orders tests: API keys of both tenants, English service messages."""

import pytest
from django_tenants.utils import schema_context

from accounts.models import APIKey
from accounts.services import api_key_create
from accounts.tests.factories import bearer
from tagging.tests.conftest import _english_messages

__all__ = ["_english_messages"]


def api_key(schema: str = "alpha", scope: str = APIKey.Scope.READ_WRITE, *, sees_phones=False):
    """Authorization headers of a new API key of `schema`."""
    with schema_context(schema):
        _, raw_key = api_key_create(
            name="ERP", scope=scope, created_by=None, sees_phones=sees_phones
        )
    return bearer(raw_key)


@pytest.fixture
def write_key(db) -> dict[str, str]:
    return api_key(sees_phones=True)


@pytest.fixture
def read_key(db) -> dict[str, str]:
    return api_key(scope=APIKey.Scope.READ)
