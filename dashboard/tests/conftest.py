"""Service-level tests read the services' messages in English."""

from tagging.tests.conftest import _english_messages

__all__ = ["_english_messages"]
