"""Service-level tests read the services' messages in English (the console and API tests
choose their language per request, as users do)."""

from tagging.tests.conftest import _english_messages

__all__ = ["_english_messages"]
