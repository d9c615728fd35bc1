"""The audit actions this platform records, with their human-readable labels."""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

AUDIT_ACTIONS: dict[str, Promise] = {
    "login.locked": _("Login locked after repeated failures"),
    "api_key.created": _("API key created"),
    "api_key.revoked": _("API key revoked"),
    "operator.created": _("Operator created"),
    "tenant.created": _("Tenant created"),
    "tenant.activated": _("Tenant activated"),
    "tenant.deactivated": _("Tenant deactivated"),
    "wecom.corp_connected": _("WeCom corp connected"),
    "wecom.app_saved": _("WeCom app credentials saved"),
    "wecom.callback_retried": _("WeCom callback retried"),
    "wecom.self_test": _("WeCom connection self-test"),
    "settings.changed": _("Settings changed"),
    "export.created": _("Data exported"),
    "contacts.sync_started": _("Contact sync started"),
    "contacts.remark_updated": _("Customer remark edited"),
    "contacts.exported": _("Customers exported"),
    "tags.created": _("Tags created"),
    "tags.renamed": _("Tag renamed"),
    "tags.deleted": _("Tag deleted"),
    "tags.bulk_started": _("Bulk tagging started"),
    "tags.bulk_cancelled": _("Bulk tagging cancelled"),
    "tags.rule_saved": _("Auto-tag rule saved"),
    "tags.rule_deleted": _("Auto-tag rule deleted"),
    "segments.saved": _("Segment saved"),
    "segments.deleted": _("Segment deleted"),
    "channels.created": _("Channel created"),
    "channels.updated": _("Channel edited"),
    "channels.deleted": _("Channel deleted"),
    "broadcast.confirmed": _("Group send confirmed"),
    "handover.started": _("Handover started"),
}


def audit_action_label(action: str) -> str:
    label = AUDIT_ACTIONS.get(action)
    return str(label) if label is not None else action
