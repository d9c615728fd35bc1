"""Parse WeCom's callback XML (envelope and decrypted message) into flat dicts."""

import hashlib
from datetime import UTC, datetime
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict


class MalformedCallback(Exception):
    """The body is not the XML WeCom sends (HTTP 400)."""


def parse_xml(text: str | bytes) -> dict[str, Any]:
    """A flat dict of the <xml> root's children. Entities are refused (no expansion bombs)."""
    try:
        document = xmltodict.parse(text, disable_entities=True)
    except (ExpatError, ValueError) as exc:
        raise MalformedCallback(f"not well-formed XML: {exc}") from exc
    root = document.get("xml") if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise MalformedCallback("no <xml> root element")
    return dict(root)


def envelope_ciphertext(body: bytes) -> str:
    fields = parse_xml(body)
    encrypted = fields.get("Encrypt")
    if not isinstance(encrypted, str) or not encrypted:
        raise MalformedCallback("no <Encrypt> element")
    return encrypted


def event_fields(message_xml: str) -> dict[str, Any]:
    fields = parse_xml(message_xml)
    if not fields.get("MsgType"):
        raise MalformedCallback("message has no MsgType")
    if fields["MsgType"] == "event" and not fields.get("Event"):
        raise MalformedCallback("event message has no Event")
    return fields


def dedupe_key(fields: dict[str, Any]) -> str:
    """WeCom's advice: MsgId when present, else the event's identity plus CreateTime."""
    if fields.get("MsgId"):
        parts = ["msg", str(fields["MsgId"])]
    else:
        parts = [
            str(fields.get(name, ""))
            for name in (
                "Event",
                "ChangeType",
                "UserID",
                "ExternalUserID",
                "ChatId",
                "Id",
                "TagType",
                "UpdateDetail",
                "NewUserID",
                "CreateTime",
                "FromUserName",
            )
        ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def create_time(fields: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(fields["CreateTime"]), tz=UTC)
    except (KeyError, TypeError, ValueError):
        return None
