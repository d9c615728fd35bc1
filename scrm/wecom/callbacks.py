"""The callback URL WeCom calls: /wecom/callback/<corp_id>/<app>/.

Resolved without host routing (WeCom calls one fixed URL per app): the corp id in the path
selects the tenant. GET answers URL verification; POST verifies, decrypts, stores the
event and answers 200 with an empty body, never waiting on WeCom calls or the worker.
"""

import logging
import time
from dataclasses import dataclass
from threading import Lock

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from scrm.wecom.crypto import CallbackCrypto, CallbackCryptoError, CallbackSignatureError
from scrm.wecom.events import parsing
from scrm.wecom.events.services import callback_event_store

logger = logging.getLogger(__name__)

CALLBACK_PATH_PREFIX = "/wecom/callback/"
TARGET_CACHE_SECONDS = 60


@dataclass(frozen=True)
class CallbackTarget:
    tenant_schema: str
    app_kind: str
    crypto: CallbackCrypto


_targets: dict[tuple[str, str], tuple[float, CallbackTarget | None]] = {}
_targets_lock = Lock()


def callback_target(corp_id: str, app_kind: str) -> CallbackTarget | None:
    """The tenant and keys for a callback URL; cached per process for a minute."""
    from tenants.models import WeComApp

    now = time.monotonic()
    cached = _targets.get((corp_id, app_kind))
    if cached and cached[0] > now:
        return cached[1]
    app = (
        WeComApp.objects.select_related("corp__tenant")
        .filter(corp__corp_id=corp_id, kind=app_kind)
        .first()
    )
    target = None
    if app is not None and app.callback_token and app.encoding_aes_key:
        target = CallbackTarget(
            tenant_schema=app.corp.tenant.schema_name,
            app_kind=app_kind,
            crypto=CallbackCrypto(
                token=app.callback_token,
                encoding_aes_key=app.encoding_aes_key,
                receive_id=corp_id,
            ),
        )
    with _targets_lock:
        _targets[(corp_id, app_kind)] = (now + TARGET_CACHE_SECONDS, target)
    return target


def forget_callback_targets() -> None:
    with _targets_lock:
        _targets.clear()


def _reject(status: int, reason: str, corp_id: str, app_kind: str) -> HttpResponse:
    logger.warning("WeCom callback %s/%s rejected (%d): %s", corp_id, app_kind, status, reason)
    return HttpResponse(reason, status=status, content_type="text/plain")


@csrf_exempt
def wecom_callback(request: HttpRequest, corp_id: str, app_kind: str) -> HttpResponse:
    target = callback_target(corp_id, app_kind)
    if target is None:
        return _reject(404, "unknown corp or app, or no callback keys saved", corp_id, app_kind)
    signature = request.GET.get("msg_signature", "")
    timestamp = request.GET.get("timestamp", "")
    nonce = request.GET.get("nonce", "")
    if not (signature and timestamp and nonce):
        return _reject(400, "msg_signature, timestamp and nonce are required", corp_id, app_kind)

    if request.method == "GET":
        echostr = request.GET.get("echostr", "")
        try:
            plain = target.crypto.verify_and_decrypt(
                msg_signature=signature, timestamp=timestamp, nonce=nonce, encrypted=echostr
            )
        except CallbackSignatureError:
            return _reject(403, "bad signature", corp_id, app_kind)
        except CallbackCryptoError as exc:
            return _reject(400, str(exc), corp_id, app_kind)
        return HttpResponse(plain, content_type="text/plain")
    if request.method != "POST":
        return HttpResponse(status=405)

    try:
        encrypted = parsing.envelope_ciphertext(request.body)
        target.crypto.verify(
            msg_signature=signature, timestamp=timestamp, nonce=nonce, encrypted=encrypted
        )
        message_xml = target.crypto.decrypt(encrypted)
        fields = parsing.event_fields(message_xml)
    except CallbackSignatureError:
        return _reject(403, "bad signature", corp_id, app_kind)
    except (CallbackCryptoError, parsing.MalformedCallback) as exc:
        return _reject(400, str(exc), corp_id, app_kind)

    connection.set_schema(target.tenant_schema)  # type: ignore[attr-defined]
    stored = callback_event_store(
        app_kind=app_kind, fields=fields, raw_xml=message_xml, tenant_schema=target.tenant_schema
    )
    if stored is None:
        logger.info("WeCom callback %s/%s: duplicate delivery acknowledged", corp_id, app_kind)
    return HttpResponse("", status=200, content_type="text/plain")
