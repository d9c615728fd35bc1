"""The id of the request or Celery task being served, for log records."""

import re
import uuid
from contextvars import ContextVar, Token

_request_id: ContextVar[str] = ContextVar("scrm_request_id", default="")

# An id given by a proxy (X-Request-ID) is kept only if it is short and plain.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id() -> str:
    return _request_id.get()


def request_id_set(value: str) -> Token[str]:
    return _request_id.set(value)


def request_id_reset(token: Token[str]) -> None:
    _request_id.reset(token)


def request_id_from_header(value: str | None) -> str:
    """The proxy's id when acceptable, else a new one (never an attacker's log injection)."""
    if value and _ACCEPTABLE_ID.match(value):
        return value
    return uuid.uuid4().hex
