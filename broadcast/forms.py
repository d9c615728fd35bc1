"""Console forms of group sends: parsing and shape checks only.

What makes a group send valid (a name, text or an attachment, an audience, a sender rule,
times that make sense) is decided by `broadcast.services`; its messages are shown on the
page.
"""

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from broadcast.models import Broadcast, BroadcastSettings, Delivery
from broadcast.services import BroadcastData
from channels_qr.forms import AttachmentsMixin
from contacts.models import GroupChat, Store
from tagging.audience_forms import DATETIME_INPUT_FORMATS, TagsField, TagsFormMixin
from tagging.bulk import MAX_CSV_BYTES, BulkInputError, csv_lines
from tagging.models import Segment

ID_SEPARATORS = re.compile(r"[,，;；\s]+")
IDS_MAX_CHARS = 65 * 10_000  # the text box: up to 10,000 external_userids
TEXT_HELP = _(
    "{guide_name} is replaced by the name of the guide who sends the message. One WeCom "
    "template carries one text for all its customers, so only the sender can be named: "
    "there is no per-customer placeholder (such as the customer's name) in a group send."
)


def _datetime_field(label: Any, help_text: Any = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        input_formats=DATETIME_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=help_text,
    )


def _time_field(label: Any) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=False,
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )


class SegmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        if obj.last_count is None:
            return str(obj.name)
        return _("%(name)s (%(count)s customers when last counted)") % {
            "name": obj.name,
            "count": obj.last_count,
        }


class ChatChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        owner = obj.owner.name if obj.owner else obj.owner_userid
        return f"{obj.name or obj.chat_id} · {owner} · {obj.customer_count}"


class BroadcastForm(AttachmentsMixin, forms.Form):
    """The new-group-send wizard on one page: content, audience, sender, timing."""

    name = forms.CharField(label=_("Name"), max_length=200, strip=True)
    chat_type = forms.ChoiceField(
        label=_("Send to"),
        choices=Broadcast.ChatType.choices,
        initial=Broadcast.ChatType.SINGLE,
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label=_("Text"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5, "data-preview-text": ""}),
        help_text=TEXT_HELP,
    )
    media_assets: "forms.ModelMultipleChoiceField[Any]" = forms.ModelMultipleChoiceField(
        label=_("Images and files from the media library"),
        queryset=None,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5, "data-preview-media": ""}),
        help_text=_("Sent after the text, in this order; at most 9 attachments in all."),
    )
    links = forms.CharField(
        label=_("Links"),
        required=False,
        max_length=9 * 3000,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "data-preview-links": ""}),
        help_text=_(
            "One per line: title | https://address | picture address (optional) | "
            "description (optional)."
        ),
    )
    audience = forms.ChoiceField(
        label=_("Audience"),
        choices=Broadcast.Audience.choices,
        initial=Broadcast.Audience.SEGMENT,
        widget=forms.RadioSelect,
    )
    segment = SegmentChoiceField(
        label=_("Segment"),
        queryset=Segment.objects.order_by("name", "id"),
        required=False,
        empty_label="—",
    )
    csv_file = forms.FileField(
        label=_("CSV file of external_userids"),
        required=False,
        help_text=_(
            "One external_userid (wm…/wo…) per line; a header line is optional, with several "
            "columns the one named external_userid is read. UTF-8 or GBK."
        ),
    )
    customer_ids = forms.CharField(
        label=_("Customers (external_userids)"),
        required=False,
        max_length=IDS_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("Separated by new lines, spaces or commas."),
    )
    chats = ChatChoiceField(
        label=_("Group chats"),
        queryset=GroupChat.objects.exclude(status=GroupChat.Status.DISMISSED)
        .select_related("owner")
        .order_by("name", "id"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("Name · owner · customers. Each chat's owner sends the message to it."),
    )
    sender_rule = forms.ChoiceField(
        label=_("Who sends to a customer held by several guides"),
        choices=Broadcast.SenderRule.choices,
        initial=Broadcast.SenderRule.RECENT,
        widget=forms.RadioSelect,
    )
    sender_store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.order_by("order", "department_id"),
        required=False,
        empty_label="—",
    )
    when = forms.ChoiceField(
        label=_("Create the messages in WeCom"),
        choices=[("now", _("As soon as I confirm")), ("later", _("At a time"))],
        initial="now",
        widget=forms.RadioSelect,
    )
    send_at = _datetime_field(_("At"))
    quiet_start = _time_field(_("Quiet hours from"))
    quiet_end = _time_field(_("until"))
    deadline = _datetime_field(
        _("Deadline (optional)"),
        _("Messages the guides have not sent by then are cancelled in WeCom."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from scrm.wecom.models import MediaAsset

        super().__init__(*args, **kwargs)
        self.kept_attachments: list[dict[str, Any]] = []
        media = self.fields["media_assets"]
        assert isinstance(media, forms.ModelMultipleChoiceField)
        media.queryset = MediaAsset.objects.order_by("-created_at", "-id")
        self.file_name = ""
        self.skipped_lines = 0

    def clean_customer_ids(self) -> list[str]:
        return [i for i in ID_SEPARATORS.split(self.cleaned_data["customer_ids"]) if i]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        audience = cleaned.get("audience")
        upload = cleaned.get("csv_file")
        if audience == Broadcast.Audience.CSV:
            if upload is None:
                self.add_error("csv_file", _("Choose the CSV file."))
            else:
                cleaned["csv_ids"] = self._csv_ids(upload)
        if cleaned.get("when") == "later" and cleaned.get("send_at") is None:
            self.add_error("send_at", _("Give the time, or choose “As soon as I confirm”."))
        return cleaned

    def _csv_ids(self, upload: Any) -> list[str]:
        self.file_name = str(upload.name or "upload.csv")
        try:
            lines = csv_lines(upload.read(MAX_CSV_BYTES + 1))
        except BulkInputError as exc:
            self.add_error("csv_file", str(exc))
            return []
        ids = [line.value for line in lines if line.kind == "external_userid"]
        self.skipped_lines = len(lines) - len(ids)
        if not ids:
            self.add_error("csv_file", _("The file has no external_userid (wm…/wo…)."))
        return ids

    def to_data(self) -> BroadcastData:
        """The cleaned form as the services' input."""
        data = self.cleaned_data
        audience = data["audience"]
        ids: list[str] = []
        if audience == Broadcast.Audience.CSV:
            ids = list(data.get("csv_ids") or [])
        elif audience == Broadcast.Audience.CUSTOMERS:
            ids = list(data.get("customer_ids") or [])
        elif audience == Broadcast.Audience.CHATS:
            ids = [chat.chat_id for chat in data.get("chats") or []]
        segment = data.get("segment") if audience == Broadcast.Audience.SEGMENT else None
        store = data.get("sender_store")
        return BroadcastData(
            name=data["name"],
            text=data.get("text") or "",
            attachments=self.attachments(),
            chat_type=data["chat_type"],
            audience=audience,
            segment_id=segment.pk if segment is not None else None,
            audience_ids=ids,
            file_name=self.file_name,
            sender_rule=data["sender_rule"],
            sender_store_id=store.pk if store is not None else None,
            send_at=data.get("send_at") if data.get("when") == "later" else None,
            quiet_start=data.get("quiet_start"),
            quiet_end=data.get("quiet_end"),
            deadline=data.get("deadline"),
        )


class DeliveryFilterForm(forms.Form):
    """The results table's status filter (GET): a bad value is ignored, never a 500."""

    status = forms.ChoiceField(
        label=_("Result"),
        required=False,
        choices=[("", _("All results")), *Delivery.Status.choices],
    )


class BroadcastSettingsForm(TagsFormMixin, forms.Form):
    frequency_cap = forms.ChoiceField(
        label=_("WeCom's frequency rule"),
        choices=BroadcastSettings.Cap.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "As your WeCom admin set it (WeCom admin console → Customer contact → Group send "
            "assistant → rules). WeCom applies it; the platform uses it to predict who WeCom "
            "will skip, and leaves them out of the plan."
        ),
    )
    do_not_disturb = TagsField(
        label=_("Do not disturb tags"),
        required=False,
        help_text=_(
            "Customers with any of these tags (marked by any guide) never receive group sends."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._load_tag_choices()
