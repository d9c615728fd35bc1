"""Validation of message bodies (text + attachments) shared by welcome messages, group
sends and app messages, including the 3-day life of temporary media."""

from typing import Any

from wecom_sandbox.errors import WeComError
from wecom_sandbox.rules import ATTACHMENTS_MAX, MEDIA_TTL_SECONDS, TEXT_MAX_BYTES
from wecom_sandbox.state import Corp

REQUIRED_ATTACHMENT_FIELDS = {
    "image": (),
    "link": ("title", "url"),
    "miniprogram": ("title", "pic_media_id", "appid", "page"),
    "video": ("media_id",),
    "file": ("media_id",),
}


def check_media(corp: Corp, media_id: Any, now: int) -> None:
    """40007 for an unknown media_id or one older than 3 days (sandbox clock)."""
    media = corp.media.get(media_id) if isinstance(media_id, str) else None
    if media is None:
        raise WeComError(40007, f"invalid media_id: {media_id}")
    if now - media.created_at > MEDIA_TTL_SECONDS:
        raise WeComError(40007, f"media_id expired: {media_id}")


def check_text(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, dict) or not isinstance(text.get("content", ""), str):
        raise WeComError(40058, "text.content must be a string")
    content: str = text.get("content", "")
    if len(content.encode("utf-8")) > TEXT_MAX_BYTES:
        raise WeComError(45002, f"text.content exceed max length {TEXT_MAX_BYTES} bytes")
    return content


def check_attachments(corp: Corp, attachments: Any, now: int) -> list[dict[str, Any]]:
    if attachments is None:
        return []
    if not isinstance(attachments, list):
        raise WeComError(40058, "attachments must be a list")
    if len(attachments) > ATTACHMENTS_MAX:
        raise WeComError(40058, f"attachments exceed max size {ATTACHMENTS_MAX}")
    for item in attachments:
        msgtype = item.get("msgtype") if isinstance(item, dict) else None
        if msgtype not in REQUIRED_ATTACHMENT_FIELDS:
            raise WeComError(40008, f"invalid attachment msgtype: {msgtype}")
        body = item.get(msgtype)
        if not isinstance(body, dict):
            raise WeComError(40058, f"attachment {msgtype} body missing")
        for field in REQUIRED_ATTACHMENT_FIELDS[msgtype]:
            if not body.get(field):
                raise WeComError(40058, f"attachment {msgtype}.{field} missing")
        if msgtype == "image":
            if body.get("media_id"):
                check_media(corp, body["media_id"], now)
            elif not body.get("pic_url"):
                raise WeComError(40058, "attachment image needs media_id or pic_url")
        elif msgtype == "miniprogram":
            check_media(corp, body["pic_media_id"], now)
        elif msgtype in ("video", "file"):
            check_media(corp, body["media_id"], now)
    return attachments


def check_message(corp: Corp, text: Any, attachments: Any, now: int) -> tuple[str, list[Any]]:
    """(content, attachments) once valid; 44004 when there is nothing to send."""
    content = check_text(text)
    items = check_attachments(corp, attachments, now)
    if not content and not items:
        raise WeComError(44004, "text.content and attachments are both empty")
    return content, items
