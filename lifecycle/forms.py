"""The lifecycle rules form."""

from django import forms
from django.utils.translation import gettext_lazy as _

from lifecycle.models import LifecycleSettings
from lifecycle.stages import Rules


class LifecycleSettingsForm(forms.Form):
    new_days = forms.IntegerField(
        label=LifecycleSettings._meta.get_field("new_days").verbose_name,
        min_value=1,
        max_value=365,
        help_text=_("A customer first added by any guide within these days is new."),
    )
    engaged_days = forms.IntegerField(
        label=LifecycleSettings._meta.get_field("engaged_days").verbose_name,
        min_value=1,
        max_value=365,
        help_text=_(
            "A custom event, a message, a note, a tag change or a remark edit within these days "
            "makes a customer engaged."
        ),
    )
    order_days = forms.IntegerField(
        label=LifecycleSettings._meta.get_field("order_days").verbose_name,
        min_value=1,
        max_value=730,
        help_text=_(
            "Paid orders within these days count: one makes a first-order customer, two or more "
            "a repeat buyer."
        ),
    )

    @classmethod
    def initial_of(cls, options: LifecycleSettings) -> dict[str, int]:
        return {name: getattr(options, name) for name in cls.base_fields}

    def rules(self) -> Rules:
        return Rules(**{name: self.cleaned_data[name] for name in self.base_fields})
