"""media/upload: temporary media, valid for 3 days of sandbox time. Only metadata is kept."""

from typing import Any

from wecom_sandbox import identifiers
from wecom_sandbox.errors import WeComError
from wecom_sandbox.records import Media
from wecom_sandbox.rules import MEDIA_MIN_BYTES, MEDIA_TYPES
from wecom_sandbox.wecom_api.routing import ApiCall, api


@api("media/upload")
def media_upload(call: ApiCall) -> dict[str, Any]:
    media_type = call.query.get("type", "")
    if media_type not in MEDIA_TYPES:
        raise WeComError(40005, f"invalid media type: {media_type}")
    upload = call.files.get("media")
    if upload is None or not upload.content:
        raise WeComError(44001)
    size = len(upload.content)
    if size < MEDIA_MIN_BYTES or size > MEDIA_TYPES[media_type]:
        raise WeComError(40006, f"invalid file size: {size}")
    media = Media(identifiers.media_id(), media_type, call.now, size, upload.filename)
    call.corp.media[media.media_id] = media
    # WeCom sends created_at as a string here.
    return {"type": media_type, "media_id": media.media_id, "created_at": str(media.created_at)}
