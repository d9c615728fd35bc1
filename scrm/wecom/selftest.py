"""Connection self-test: does each app's setup work, and if not, what to fix, in plain words.

The most common complaint about SCRMs is a setup that fails silently; this runs every check
a feature depends on and explains each failure with its errcode.
"""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.test import RequestFactory
from django.utils.translation import gettext as _

from scrm.wecom.callbacks import forget_callback_targets, wecom_callback
from scrm.wecom.client import WeComClient, credentials_of
from scrm.wecom.crypto import CallbackCrypto, signature
from scrm.wecom.errors import WeComError
from tenants.models import Tenant, WeComApp

# The call each app must be allowed to make for the features that use it.
PERMISSION_PROBES: dict[str, str] = {
    WeComApp.Kind.CUSTOMER_CONTACT: "externalcontact/get_follow_user_list",
    WeComApp.Kind.CONTACTS_SYNC: "department/list",
}


@dataclass
class CheckResult:
    app_kind: str
    check: str
    ok: bool
    message: str
    errcode: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def callback_url(corp_id: str, app_kind: str) -> str:
    return f"https://{settings.SCRM_PUBLIC_DOMAIN}/wecom/callback/{corp_id}/{app_kind}/"


def explain(error: WeComError) -> str:
    """A failure in words an operator can act on."""
    if error.errcode == 60020:
        return _(
            "WeCom refused our server's IP (errcode 60020). Add %(ip)s to the app's trusted "
            "IPs (企业可信IP) in the WeCom admin console."
        ) % {"ip": settings.WECOM_OUTGOING_IP}
    if error.errcode is None:
        return _("WeCom could not be reached: %(reason)s. Check the API base URL.") % {
            "reason": error.errmsg
        }
    meaning = error.meaning or error.errmsg
    return _("WeCom answered errcode %(code)s: %(meaning)s.") % {
        "code": error.errcode,
        "meaning": meaning,
    }


def _check_token(client: WeComClient, app_kind: str) -> CheckResult:
    try:
        client.tokens.refresh(stale=client.tokens.cached())
    except WeComError as exc:
        return CheckResult(app_kind, "credentials", False, explain(exc), exc.errcode)
    return CheckResult(app_kind, "credentials", True, _("Corp id and Secret accepted."))


def _check_permission(client: WeComClient, app_kind: str) -> CheckResult:
    api = PERMISSION_PROBES[app_kind]
    try:
        client.get(api)
    except WeComError as exc:
        return CheckResult(app_kind, "permission", False, explain(exc), exc.errcode, {"api": api})
    return CheckResult(app_kind, "permission", True, _("The app may call %(api)s.") % {"api": api})


def _check_callback(app: WeComApp) -> CheckResult:
    """Our own callback URL answers a verification made with the saved keys."""
    url = callback_url(app.corp.corp_id, app.kind)
    if not (app.callback_token and app.encoding_aes_key):
        return CheckResult(
            app.kind,
            "callback",
            False,
            _("No callback Token / EncodingAESKey saved: WeCom events cannot be received."),
            details={"url": url},
        )
    crypto = CallbackCrypto(
        token=app.callback_token, encoding_aes_key=app.encoding_aes_key, receive_id=app.corp.corp_id
    )
    echostr, timestamp, nonce = crypto.encrypt("selftest"), "1700000000", "selftest"
    request = RequestFactory().get(
        f"/wecom/callback/{app.corp.corp_id}/{app.kind}/",
        {
            "msg_signature": signature(app.callback_token, timestamp, nonce, echostr),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        },
    )
    forget_callback_targets()
    response = wecom_callback(request, corp_id=app.corp.corp_id, app_kind=app.kind)
    if response.status_code == 200 and response.content == b"selftest":
        return CheckResult(
            app.kind,
            "callback",
            True,
            _("The callback URL verifies. Set it in WeCom: %(url)s") % {"url": url},
            details={"url": url},
        )
    return CheckResult(
        app.kind,
        "callback",
        False,
        _("The callback URL did not verify (HTTP %(status)s).") % {"status": response.status_code},
        details={"url": url},
    )


def wecom_self_test(*, tenant: Tenant, actor: Any = None) -> list[CheckResult]:
    """Run every check for every app of the tenant's corp; records the run in the audit log."""
    from accounts.services import audit_record

    corp = getattr(tenant, "wecom_corp", None)
    if corp is None:
        return [CheckResult("", "corp", False, _("No WeCom corp is connected to this tenant."))]
    results: list[CheckResult] = []
    apps = list(corp.apps.select_related("corp__tenant").order_by("kind"))
    if not apps:
        results.append(CheckResult("", "apps", False, _("No WeCom app is configured.")))
    for app in apps:
        client = WeComClient(
            credentials_of(app),
            max_wait=2.0,
            max_attempts=1,
        )
        token = _check_token(client, app.kind)
        results.append(token)
        if token.ok:
            results.append(_check_permission(client, app.kind))
        results.append(_check_callback(app))
    audit_record(
        action="wecom.self_test",
        actor=actor,
        target=corp,
        detail={"failed": [f"{r.app_kind}:{r.check}" for r in results if not r.ok]},
    )
    return results
