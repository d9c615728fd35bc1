"""Service-level tests read the services' messages in English (the console and API tests
choose their language per request, as users do)."""

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    with translation.override("en"):
        yield
