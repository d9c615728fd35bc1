"""`Idempotency-Key` for POST endpoints: a retried request is answered, not done again.

    class OrderViewSet(...):
        @idempotent
        def create(self, request): ...

A request carrying the header claims the key (accounts.IdempotencyKey, unique per API key
and key) in the same transaction as the view's own writes, and stores the answer with it:

- the same key and the same request (method, path, body) again: the first answer, same
  status and body, with `Idempotent-Replayed: true`; nothing runs again;
- the same key with another request: 422, nothing runs;
- a duplicate arriving while the first still runs waits on the key's unique index until the
  first commits, then gets its answer (or, if the first failed and rolled back, runs);
- a view that raises (a 400 from validation, a 500) rolls back with its key: a retry runs
  again. Answers of 500 and above are never kept.

Keys live 24 hours (accounts.tasks.idempotency_keys_prune_task deletes them). The view runs
inside one transaction, so this suits endpoints whose work is in the database; an endpoint
that calls WeCom must not hold a transaction across the call and should not use it.
"""

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from accounts.models import APIKey, IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
LIFETIME = timedelta(hours=24)
KEY_MAX = 255

PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (a UUID) up to 255 printable ASCII characters. Sent again "
    "with the same request within 24 hours, the first answer comes back (same status and "
    "body, header `Idempotent-Replayed: true`) and nothing is done twice; sent with a "
    "different request, 422.",
)


class IdempotencyErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(help_text="`idempotency_key_reused`")


KEY_REUSED = OpenApiResponse(
    IdempotencyErrorSerializer,
    description="This Idempotency-Key was used with a different request (method, path or "
    "body) in the last 24 hours; nothing was done.",
)


def key_reused() -> Response:
    """422 with the `code` the schema documents (an APIException would answer `detail` only)."""
    return Response(
        {
            "detail": _(
                "This Idempotency-Key was already used with a different request; use a new key."
            ),
            "code": "idempotency_key_reused",
        },
        status=422,
    )


def _canonical(value: Any) -> Any:
    """Uploaded files by content, everything else as parsed."""
    if hasattr(value, "read") and hasattr(value, "seek"):
        value.seek(0)
        digest = hashlib.sha256()
        for chunk in iter(lambda: value.read(65536), b""):
            digest.update(chunk)
        value.seek(0)
        return {"file": getattr(value, "name", ""), "sha256": digest.hexdigest()}
    if hasattr(value, "lists"):  # a QueryDict: every value of every field
        return {key: [_canonical(v) for v in values] for key, values in sorted(value.lists())}
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


def request_fingerprint(request: Request) -> str:
    """SHA-256 of the method, the path with its query, and the parsed body (keys sorted,
    files by content), so spacing and key order of the JSON do not count."""
    body = json.dumps(_canonical(request.data), sort_keys=True, default=str, ensure_ascii=False)
    text = f"{request.method}\n{request.get_full_path()}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def _key_of(request: Request) -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > KEY_MAX or not key.isascii() or not key.isprintable():
        raise ValidationError(
            {HEADER: [_("Use 1 to 255 printable ASCII characters (a UUID, for example).")]}
        )
    return key


def _claim(api_key: APIKey, key: str, fingerprint: str, request: Request) -> IdempotencyKey | None:
    """Claim the key (None: it is taken; the row is then read under a lock). Waits on the
    unique index while another transaction holding the same key is open."""
    now = timezone.now()
    # An expired key is free again even before the prune job removed it.
    IdempotencyKey.objects.filter(api_key=api_key, key=key, expires_at__lte=now).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {IdempotencyKey._meta.db_table}
                (api_key_id, key, fingerprint, method, path, created_at, expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (api_key_id, key) DO NOTHING
            RETURNING id
            """,  # noqa: S608 - the table name is ours, values are parameters
            [
                api_key.pk,
                key,
                fingerprint,
                request.method or "",
                request.path[:300],
                now,
                now + LIFETIME,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return IdempotencyKey(pk=row[0], api_key=api_key, key=key, fingerprint=fingerprint)


def _replay(stored: IdempotencyKey) -> Response:
    response = Response(stored.response_body, status=stored.response_status)
    response[REPLAYED_HEADER] = "true"
    return response


ViewMethod = Callable[..., Response]


def idempotent(view_method: ViewMethod) -> ViewMethod:
    """Make a DRF view method honour `Idempotency-Key` (see the module's docstring)."""

    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = _key_of(request)
        api_key = request.auth
        if key is None or not isinstance(api_key, APIKey):
            return view_method(self, request, *args, **kwargs)
        fingerprint = request_fingerprint(request)
        with transaction.atomic():
            claimed = _claim(api_key, key, fingerprint, request)
            while claimed is None:
                stored = (
                    IdempotencyKey.objects.select_for_update()
                    .filter(api_key=api_key, key=key)
                    .first()
                )
                if stored is None:  # expired and deleted in between: claim it afresh
                    claimed = _claim(api_key, key, fingerprint, request)
                    continue
                if stored.fingerprint != fingerprint:
                    return key_reused()
                return _replay(stored)
            response = view_method(self, request, *args, **kwargs)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            body = getattr(response, "data", None)
            IdempotencyKey.objects.filter(pk=claimed.pk).update(
                response_status=response.status_code,
                # as the client read it: decimals, dates and lazy texts as JSON renders them
                response_body=json.loads(json.dumps(body, cls=JSONEncoder)),
            )
        return response

    return wrapper


def idempotency_keys_prune(*, now: Any = None) -> int:
    """Delete the keys past their 24 hours; returns how many."""
    deleted, _counts = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
