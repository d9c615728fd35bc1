from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from privacy.services import RETENTION_MAX_DAYS, RETENTION_MIN_DAYS


class PrivacySettingsForm(forms.Form):
    relation_retention_days = forms.IntegerField(
        label=_("Keep deleted relations for (days)"),
        min_value=RETENTION_MIN_DAYS,
        max_value=RETENTION_MAX_DAYS,
        help_text=_(
            "After this, a relation ended by either side loses its remark, description and "
            "remark phones; a customer left with no relation that is active or ended within "
            "this period is erased entirely. Default 365."
        ),
    )
    callback_retention_days = forms.IntegerField(
        label=_("Keep raw WeCom callbacks for (days)"),
        min_value=RETENTION_MIN_DAYS,
        max_value=RETENTION_MAX_DAYS,
        help_text=_(
            "After this, a processed callback's raw XML and payload are emptied; the row stays "
            "in the callback list. A failed callback can be retried until then. Default 30."
        ),
    )


class EraseConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that this cannot be undone."),
        error_messages={"required": _("Tick the box to confirm the erasure.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["confirm"].widget.attrs["required"] = True
