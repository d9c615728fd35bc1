"""Service-level tests read the services' messages in English (see tagging's conftest)."""

from tagging.tests.conftest import _english_messages  # noqa: F401  (autouse fixture)
