"""Tenant isolation, swept over every URL of a brand's host.

Brand alpha's data is made (one object of every model, by model_bakery) and copied row for
row into brand beta, so every object addressed by id exists in both with the same id; beta's
copies of names and texts are marked. Then, for every URL pattern:

- with alpha's operator session, API key or guide token on beta's host: refused (login
  redirect, 401, 403, 404 or 405), never an answer;
- on alpha's own host, after beta's pages were visited first (so any cache that forgot the
  tenant would hold beta's data): no 5xx and nothing of beta's (no marker) in the answer.

Every URL must be classified below; a new one fails this test until it is.
"""

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from conftest import tenant_host
from tests.sweep import MARK, access_of, kwargs_for, url_patterns

pytestmark = pytest.mark.slow

# Every URL name of the brand's host (how each is reached follows from OPEN and its prefix).
# A new URL fails test_every_url_is_classified until it is added here.
KNOWN = {
    "accounts:api_key_revoke", "accounts:api_key_rotate", "accounts:api_keys",
    "accounts:audit_log", "accounts:login", "accounts:logout", "api-docs", "api-key-detail",
    "api-key-list", "api-key-rotate", "api-schema",
    "audience:bulk_job", "audience:bulk_job_cancel", "audience:bulk_job_progress",
    "audience:bulk_job_report", "audience:bulk_jobs", "audience:bulk_upload",
    "audience:guide_search", "audience:rule_apply", "audience:rule_create",
    "audience:rule_delete", "audience:rule_edit", "audience:rules", "audience:segment",
    "audience:segment_bulk", "audience:segment_create", "audience:segment_delete",
    "audience:segment_edit", "audience:segment_preview", "audience:segment_refresh",
    "audience:segments", "audit-log-detail", "audit-log-list", "broadcast-cancel",
    "broadcast-confirm", "broadcast-deliveries", "broadcast-detail", "broadcast-list",
    "broadcast-plan", "broadcast-remind", "broadcast:cancel", "broadcast:confirm",
    "broadcast:detail", "broadcast:export", "broadcast:list", "broadcast:new", "broadcast:plan",
    "broadcast:progress", "broadcast:refresh", "broadcast:remind", "broadcast:segment_count",
    "broadcast:settings", "bulk-tag-job-cancel", "bulk-tag-job-detail", "bulk-tag-job-list",
    "bulk-tag-job-rows", "channel-detail", "channel-group-detail", "channel-group-list",
    "channel-list", "channel-stats", "channel_downloads:poster_pdf",
    "channel_downloads:poster_png", "channel_downloads:qr", "channels:delete",
    "channels:detail", "channels:edit", "channels:group_delete", "channels:group_rename",
    "channels:groups", "channels:list", "channels:new", "channels:stats_csv",
    "channels:stats_json", "channels:welcome_delete", "channels:welcome_edit",
    "channels:welcome_new", "channels:welcomes", "contacts-sync-list", "contacts:customer",
    "contacts:customer_export", "contacts:customers", "contacts:deletions",
    "contacts:group_chat", "contacts:group_chats", "contacts:guide", "contacts:guides",
    "contacts:sync", "customer-by-external-userid", "customer-detail", "customer-list",
    "customer-privacy-erase", "customer-privacy-export", "customer-timeline", "dashboard:home",
    "event-batch", "event-detail", "event-list", "group-chat-detail", "group-chat-list",
    "guide-detail", "guide-list", "handover-cancel", "handover-detail", "handover-items",
    "handover-list", "handover-preview", "handover-reallocate", "handover:cancel",
    "handover:detail", "handover:items_csv", "handover:list", "handover:new",
    "handover:progress", "handover:reallocate", "handover:settings", "healthz",
    "lifecycle-customer-list", "lifecycle-stage-count-list", "lifecycle:customers",
    "lifecycle:settings", "order-batch", "order-detail", "order-import-detail",
    "order-import-list", "order-import-rows", "order-list", "orders:detail", "orders:events",
    "orders:import", "orders:import_new", "orders:import_progress", "orders:import_report",
    "orders:import_template", "orders:imports", "orders:list", "privacy:customer_erase",
    "privacy:customer_export", "privacy:settings", "relation-detail", "relation-list",
    "relation-tags", "segment-customers", "segment-detail", "segment-list", "segment-preview",
    "set_language", "sidebar:console_folder_delete", "sidebar:console_folder_edit",
    "sidebar:console_quick_replies", "sidebar:console_reply_delete",
    "sidebar:console_reply_edit", "sidebar:console_reply_new", "sidebar:console_settings",
    "sidebar:customer", "sidebar:follow_up_done", "sidebar:follow_ups", "sidebar:home",
    "sidebar:jssdk_config", "sidebar:login", "sidebar:notes", "sidebar:oauth_callback",
    "sidebar:quick_replies", "sidebar:quick_reply_message", "sidebar:tags", "sidebar:timeline",
    "store-list", "tag-detail", "tag-group-detail", "tag-group-list", "tag-group-tags",
    "tag-rule-apply", "tag-rule-detail", "tag-rule-list", "tagging:group_create",
    "tagging:group_delete", "tagging:group_rename", "tagging:group_tags_add", "tagging:pull",
    "tagging:relation_tags", "tagging:tag_delete", "tagging:tag_rename", "tagging:tags",
    "webhook-delivery-detail", "webhook-delivery-list", "webhook-delivery-redeliver",
    "webhook-endpoint-detail", "webhook-endpoint-list", "webhook-endpoint-ping",
    "webhook-endpoint-rotate-secret", "webhooks:delete", "webhooks:delivery", "webhooks:detail",
    "webhooks:disable", "webhooks:edit", "webhooks:enable", "webhooks:list", "webhooks:new",
    "webhooks:redeliver", "webhooks:rotate", "webhooks:test", "wecom:callback_event_retry",
    "wecom:callback_events", "wecom:connection", "welcome-message-detail",
    "welcome-message-list",
}  # fmt: skip


def test_every_url_is_classified():
    names = {name for _, name, _ in url_patterns()}
    unknown = sorted(names - KNOWN)
    assert not unknown, f"classify these URLs in {__file__} (KNOWN): {unknown}"
    assert not sorted(KNOWN - names), "URLs gone: remove them from KNOWN"


REFUSALS = {
    "console": {302, 401, 403, 404, 405},
    "api": {401, 404, 405},
    "sidebar": {401, 403, 404, 405},
}


def test_no_url_of_one_brand_serves_another(twins):
    assert not twins["refused"] or len(twins["refused"]) < 10, twins["refused"]
    alpha, beta = twins["alpha"], twins["beta"]
    beta_host = Client(HTTP_HOST=tenant_host("beta"), raise_request_exception=False)
    alpha_host = Client(HTTP_HOST=tenant_host("alpha"), raise_request_exception=False)
    crossed, leaked, failed, checked, marked_on_beta = [], [], [], 0, 0
    for route, name, pattern in url_patterns():
        access = access_of(route, name)
        if access == "open":
            continue
        try:
            path = reverse(name, kwargs=kwargs_for(pattern, twins["values"])) if name else None
        except NoReverseMatch:
            path = None
        if path is None:
            failed.append(f"{name}: cannot build a path for {route}")
            continue
        checked += 1
        # alpha's credentials on beta's host: refused
        for method in ("GET", "POST"):
            if access == "console":
                beta_host.cookies = alpha["console"].cookies
                answer = beta_host.generic(method, path)
                login_redirect = (
                    answer.status_code == 302 and "/accounts/login/" in answer["Location"]
                )
                ok = login_redirect or answer.status_code in REFUSALS["console"] - {302}
            else:
                beta_host.cookies.clear()
                answer = beta_host.generic(method, path, **alpha[access])
                ok = answer.status_code in REFUSALS[access]
            if not ok:
                crossed.append(
                    f"{method} {path} ({access}) with alpha's credentials: {answer.status_code}"
                )
        # beta visits first (fills any cache), then alpha on its own host: nothing of beta's
        if access == "console":
            own = beta["console"].get(path)
            answer = alpha["console"].get(path)
        else:
            beta_host.cookies.clear()
            own = beta_host.get(path, **beta[access])
            answer = alpha_host.get(path, **alpha[access])
        if own.status_code == 200 and not own.streaming and MARK.encode() in own.content:
            marked_on_beta += 1
        if answer.status_code >= 500:
            failed.append(f"GET {path} on alpha: {answer.status_code}")
        body = b"".join(answer.streaming_content) if answer.streaming else answer.content
        if MARK.encode() in body:
            leaked.append(f"GET {path} on alpha shows beta's data")
    print(f"isolation sweep: {checked} URLs, {marked_on_beta} of beta's own answers marked")
    assert checked > 100
    # beta's own pages show its marked copies: a leak to alpha would show too
    assert marked_on_beta > 30
    assert not crossed
    assert not leaked
    assert not failed
