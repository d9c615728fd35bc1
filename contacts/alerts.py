"""Deletion alerts (删人提醒): tell store managers when a customer and a guide part."""

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from contacts.models import ContactSettings, CustomerEvent, Guide, Relation
from contacts.selectors import deletion_list
from contacts.services import contact_settings_get

DIGEST_MAX_LINES = 50


def alert_recipients(guide: Guide, settings_row: ContactSettings) -> list[str]:
    """The guide's store managers and the configured people, active ones only."""
    userids: list[str] = []
    if guide.store_id is not None:
        userids += list(
            Guide.objects.filter(
                managed_stores=guide.store_id, status=Guide.Status.ACTIVE
            ).values_list("userid", flat=True)
        )
    userids += list(
        settings_row.deletion_alert_recipients.filter(status=Guide.Status.ACTIVE).values_list(
            "userid", flat=True
        )
    )
    return sorted(set(userids) - {guide.userid})


def _line(kind: str, customer_name: str, guide: Guide, at: datetime) -> str:
    store = guide.store.name if guide.store_id and guide.store else "-"
    when = timezone.localtime(at).strftime("%m-%d %H:%M")
    if kind == CustomerEvent.Kind.DELETED_BY_CUSTOMER:
        return _("%(when)s customer “%(customer)s” deleted guide %(guide)s (%(store)s)") % {
            "when": when,
            "customer": customer_name,
            "guide": guide.name,
            "store": store,
        }
    return _("%(when)s guide %(guide)s (%(store)s) deleted customer “%(customer)s”") % {
        "when": when,
        "customer": customer_name,
        "guide": guide.name,
        "store": store,
    }


def deletion_alert_compose(*, relation: Relation) -> tuple[list[str], str] | None:
    """Who to tell at once of this ended relation, and what; None when nobody is told."""
    settings_row = contact_settings_get()
    if settings_row.deletion_alert_mode != ContactSettings.AlertMode.IMMEDIATE:
        return None
    if (
        relation.status == Relation.Status.DELETED_BY_GUIDE
        and not settings_row.alert_on_guide_deletes
    ):
        return None
    guide = Guide.objects.select_related("store").get(pk=relation.guide_id)
    recipients = alert_recipients(guide, settings_row)
    if not recipients:
        return None
    kind = (
        CustomerEvent.Kind.DELETED_BY_CUSTOMER
        if relation.status == Relation.Status.DELETED_BY_CUSTOMER
        else CustomerEvent.Kind.DELETED_BY_GUIDE
    )
    customer = relation.customer
    name = relation.remark or customer.name or customer.external_userid
    at = relation.deleted_at or timezone.now()
    with override("zh-hans"):
        text = _("[Deletion alert]") + " " + _line(kind, name, guide, at)
    return recipients, text


def deletion_alert(*, relation: Relation) -> None:
    """Called once per deletion: sends at once, or leaves it for the daily digest."""
    from scrm.tenant_tasks import enqueue
    from scrm.wecom.tasks import guide_notify_task

    alert = deletion_alert_compose(relation=relation)
    if alert is not None:
        recipients, text = alert
        enqueue(guide_notify_task, userids=recipients, text=text)


def deletion_digest_compose(
    *, since: datetime, until: datetime, settings_row: ContactSettings
) -> tuple[dict[str, str], int]:
    """One digest text per recipient for the deletions in [since, until); and their count."""
    events = list(deletion_list(since=since).filter(occurred_at__lt=until)[:5000])
    if not settings_row.alert_on_guide_deletes:
        events = [e for e in events if e.kind == CustomerEvent.Kind.DELETED_BY_CUSTOMER]
    per_recipient: dict[str, list[str]] = {}
    for event in events:
        if event.guide is None:
            continue
        name = event.customer.name or event.customer.external_userid
        line = _line(event.kind, name, event.guide, event.occurred_at)
        for userid in alert_recipients(event.guide, settings_row):
            per_recipient.setdefault(userid, []).append(line)
    texts: dict[str, str] = {}
    with override("zh-hans"):
        title = _("[Deletion digest] %(count)s deletions since %(since)s")
        for userid, lines in per_recipient.items():
            heading = title % {
                "count": len(lines),
                "since": timezone.localtime(since).strftime("%m-%d %H:%M"),
            }
            more = len(lines) - DIGEST_MAX_LINES
            tail = [_("… and %(count)s more in the console") % {"count": more}] if more > 0 else []
            texts[userid] = "\n".join([heading, *lines[:DIGEST_MAX_LINES], *tail])
    return texts, len(events)


def deletion_digest_send() -> int:
    """The daily digest, for brands that chose it: one message per recipient listing the
    deletions since the last digest. Returns the number of deletions reported."""
    from scrm.tenant_tasks import enqueue
    from scrm.wecom.tasks import guide_notify_task

    settings_row = contact_settings_get()
    if settings_row.deletion_alert_mode != ContactSettings.AlertMode.DAILY:
        return 0
    now = timezone.now()
    since = settings_row.last_digest_at or now - timedelta(days=1)
    texts, count = deletion_digest_compose(since=since, until=now, settings_row=settings_row)
    for userid, text in texts.items():
        enqueue(guide_notify_task, userids=[userid], text=text)
    settings_row.last_digest_at = now
    settings_row.save(update_fields=["last_digest_at"])
    return count
