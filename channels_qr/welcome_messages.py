"""Welcome messages outside channels (默认欢迎语), and the shape of welcome attachments.

A welcome is the tenant default, a guide's own or a store's own (`WelcomeMessage`); the
handler picks the channel's first, then the guide's, the store's, the default
(`channels_qr.welcome.welcome_choose`). Attachments are stored as library references and
turned into WeCom's format when sent:

- `{"msgtype": "image" | "file" | "video", "media": <MediaAsset id>}`
- `{"msgtype": "link", "title", "url", "picurl"?, "desc"?}`
- `{"msgtype": "miniprogram", "title", "appid", "page", "pic_media": <MediaAsset id>}`
"""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from channels_qr.models import WELCOME_ATTACHMENTS_MAX, WelcomeMessage
from contacts.models import Guide, Store

WELCOME_TEXT_MAX_BYTES = 4000  # WeCom: text.content of send_welcome_msg
LINK_TITLE_MAX_BYTES = 128
LINK_DESC_MAX_BYTES = 512
LINK_URL_MAX_BYTES = 2048
MEDIA_KINDS = ("image", "file", "video")


class WelcomeInputError(ValueError):
    """A welcome message WeCom would refuse, or that says nothing; nothing was saved."""


def _bytes(value: Any) -> int:
    return len(str(value or "").encode())


def _asset_id(value: Any) -> int:
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**31):
        raise WelcomeInputError(_("a media attachment needs a media library id"))
    return int(text)


def attachments_check(items: Any, *, check_exists: bool = True) -> list[dict[str, Any]]:
    """The attachments in their stored shape (unknown keys dropped), or WelcomeInputError
    naming the first one that is wrong. `check_exists` also looks the media ids up."""
    from scrm.wecom.models import MediaAsset

    if not isinstance(items, list):
        raise WelcomeInputError(_("attachments are a list"))
    if len(items) > WELCOME_ATTACHMENTS_MAX:
        raise WelcomeInputError(
            _("at most %(n)d welcome attachments") % {"n": WELCOME_ATTACHMENTS_MAX}
        )
    out: list[dict[str, Any]] = []
    media_ids: set[int] = set()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise WelcomeInputError(_("attachment %(n)d is not an object") % {"n": number})
        kind = item.get("msgtype")
        try:
            if kind in MEDIA_KINDS:
                asset = _asset_id(item.get("media"))
                media_ids.add(asset)
                out.append({"msgtype": kind, "media": asset})
            elif kind == "link":
                title, url = str(item.get("title") or "").strip(), str(item.get("url") or "")
                if not title or _bytes(title) > LINK_TITLE_MAX_BYTES:
                    raise WelcomeInputError(
                        _("a link needs a title of at most %(n)d bytes")
                        % {"n": LINK_TITLE_MAX_BYTES}
                    )
                if not url.startswith(("https://", "http://")) or _bytes(url) > LINK_URL_MAX_BYTES:
                    raise WelcomeInputError(_("a link needs an http(s) address"))
                picurl = str(item.get("picurl") or "").strip()
                if picurl and not picurl.startswith(("https://", "http://")):
                    raise WelcomeInputError(_("a link's picture is an http(s) address"))
                desc = str(item.get("desc") or "").strip()
                if _bytes(desc) > LINK_DESC_MAX_BYTES:
                    raise WelcomeInputError(
                        _("a link's description is at most %(n)d bytes")
                        % {"n": LINK_DESC_MAX_BYTES}
                    )
                out.append(
                    {"msgtype": "link", "title": title, "url": url, "picurl": picurl, "desc": desc}
                )
            elif kind == "miniprogram":
                asset = _asset_id(item.get("pic_media"))
                media_ids.add(asset)
                fields = {k: str(item.get(k) or "").strip() for k in ("title", "appid", "page")}
                if not all(fields.values()):
                    raise WelcomeInputError(
                        _("a mini-program card needs a title, an appid and a page")
                    )
                out.append({"msgtype": "miniprogram", **fields, "pic_media": asset})
            else:
                raise WelcomeInputError(_("the type is image, file, video, link or miniprogram"))
        except WelcomeInputError as exc:
            raise WelcomeInputError(
                _("attachment %(n)d: %(reason)s") % {"n": number, "reason": exc}
            ) from None
    if check_exists and media_ids:
        known = set(MediaAsset.objects.filter(pk__in=media_ids).values_list("pk", flat=True))
        if media_ids - known:
            raise WelcomeInputError(
                _("no such media in the library: %(ids)s")
                % {"ids": ", ".join(str(i) for i in sorted(media_ids - known))}
            )
    return out


def welcome_text_check(text: str) -> str:
    if _bytes(text) > WELCOME_TEXT_MAX_BYTES:
        raise WelcomeInputError(
            _("the welcome text is over %(n)d bytes") % {"n": WELCOME_TEXT_MAX_BYTES}
        )
    return text


@transaction.atomic
def welcome_message_save(
    *,
    message: WelcomeMessage | None,
    scope: str,
    text: str,
    attachments: list[dict[str, Any]],
    actor: Any,
    guide_id: int | None = None,
    store_id: int | None = None,
) -> WelcomeMessage:
    """Create or change a default, guide or store welcome (one of each at most)."""
    if scope not in WelcomeMessage.Scope.values:
        raise WelcomeInputError(_("the scope is default, guide or store"))
    text = welcome_text_check(text.strip())
    attachments = attachments_check(attachments)
    if not text and not attachments:
        raise WelcomeInputError(_("write a text or add an attachment"))
    guide_id = guide_id if scope == WelcomeMessage.Scope.GUIDE else None
    store_id = store_id if scope == WelcomeMessage.Scope.STORE else None
    same = WelcomeMessage.objects.filter(scope=scope)
    if message is not None:
        same = same.exclude(pk=message.pk)
    if scope == WelcomeMessage.Scope.GUIDE:
        if guide_id is None or not Guide.objects.filter(pk=guide_id).exists():
            raise WelcomeInputError(_("choose the guide this welcome is for"))
        if same.filter(guide_id=guide_id).exists():
            raise WelcomeInputError(_("this guide has a welcome already: edit that one"))
    elif scope == WelcomeMessage.Scope.STORE:
        if store_id is None or not Store.objects.filter(pk=store_id).exists():
            raise WelcomeInputError(_("choose the store this welcome is for"))
        if same.filter(store_id=store_id).exists():
            raise WelcomeInputError(_("this store has a welcome already: edit that one"))
    elif same.exists():
        raise WelcomeInputError(_("there is a default welcome already: edit that one"))
    created = message is None
    message = message or WelcomeMessage()
    message.scope, message.guide_id, message.store_id = scope, guide_id, store_id
    message.text, message.attachments = text, attachments
    message.updated_at = timezone.now()
    message.save()
    audit_record(
        action="channels.welcome_created" if created else "channels.welcome_updated",
        actor=actor,
        target=message,
        detail={"scope": scope},
    )
    return message


@transaction.atomic
def welcome_message_delete(*, message: WelcomeMessage, actor: Any) -> None:
    audit_record(
        action="channels.welcome_deleted",
        actor=actor,
        target=message,
        detail={"scope": message.scope},
    )
    message.delete()
