"""Console forms of the sidebar: parsing and shape only; sidebar.services decides what is
valid (what each kind of reply needs, unique folder names)."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from scrm.wecom.models import MediaAsset
from sidebar.models import QuickReply, QuickReplyFolder, SidebarSettings

IMAGE_TYPES = ("image/jpeg", "image/png")
ORDER_MAX = 9999  # folders and replies are ordered by small numbers


def order_field() -> forms.IntegerField:
    return forms.IntegerField(
        label=_("Order"),
        min_value=0,
        max_value=ORDER_MAX,
        initial=0,
        required=False,
        help_text=_("Smaller first."),
    )


class FolderForm(forms.Form):
    name = forms.CharField(label=_("Folder name"), max_length=100, strip=True)
    order = order_field()


class QuickReplyForm(forms.Form):
    folder = forms.ModelChoiceField(
        label=_("Folder"), queryset=QuickReplyFolder.objects.order_by("order", "pk")
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=QuickReply.Kind.choices, widget=forms.RadioSelect
    )
    title = forms.CharField(
        label=_("Title"),
        max_length=100,
        help_text=_("What guides see in the library; a link's title in the chat."),
    )
    text = forms.CharField(
        label=_("Text"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For a text reply: sent as it is."),
    )
    library_image = forms.ModelChoiceField(
        label=_("Image from the media library"),
        queryset=MediaAsset.objects.filter(kind=MediaAsset.Kind.IMAGE).order_by("-created_at"),
        required=False,
    )
    upload = forms.FileField(
        label=_("Or upload an image"),
        required=False,
        help_text=_("JPG or PNG, up to 10 MB; kept in the media library."),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(IMAGE_TYPES)}),
    )
    url = forms.CharField(label=_("Link address"), max_length=1000, required=False)
    description = forms.CharField(label=_("Link description"), max_length=200, required=False)
    order = order_field()

    def clean_upload(self) -> Any:
        upload = self.cleaned_data.get("upload")
        if upload and getattr(upload, "content_type", "") not in IMAGE_TYPES:
            raise forms.ValidationError(_("Upload a JPG or PNG image."))
        return upload

    @staticmethod
    def initial_for(reply: QuickReply) -> dict[str, Any]:
        return {
            "folder": reply.folder_id,
            "kind": reply.kind,
            "title": reply.title,
            "text": reply.text,
            "library_image": reply.media_id,
            "url": reply.url,
            "description": reply.description,
            "order": reply.order,
        }


class SettingsForm(forms.Form):
    guide_scope = forms.ChoiceField(
        label=_("In the sidebar, a guide sees"),
        choices=SidebarSettings.Scope.choices,
        widget=forms.RadioSelect,
    )
