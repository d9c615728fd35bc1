"""Media kept in the platform and their WeCom temporary media_ids (valid 3 days)."""

import hashlib
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from scrm.wecom.client import WeComClient, wecom_client
from scrm.wecom.models import MediaAsset

WECOM_MEDIA_LIFETIME = timedelta(days=3)
# Re-upload this long before WeCom forgets the media, so a send never carries a dead id.
REFRESH_MARGIN = timedelta(hours=12)
MAX_SIZE = {"image": 10 * 1024 * 1024, "file": 20 * 1024 * 1024, "video": 10 * 1024 * 1024}


class MediaRejected(ValueError):
    """The file cannot be used in WeCom (size, kind)."""


@transaction.atomic
def media_asset_create(
    *, name: str, kind: str, content: bytes, content_type: str, keep_fresh: bool = True
) -> MediaAsset:
    """Store a file for later WeCom sends; WeCom's size limits are checked now."""
    if kind not in MediaAsset.Kind.values:
        raise MediaRejected(f"unknown media kind {kind!r}")
    if not content:
        raise MediaRejected("the file is empty")
    if len(content) > MAX_SIZE[kind]:
        raise MediaRejected(f"{kind} files are limited to {MAX_SIZE[kind] // 1024 // 1024} MB")
    asset = MediaAsset(
        name=name[:200],
        kind=kind,
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        keep_fresh=keep_fresh,
    )
    asset.file.save(name, ContentFile(content), save=False)
    asset.save()
    return asset


def media_needs_upload(asset: MediaAsset, *, margin: timedelta = REFRESH_MARGIN) -> bool:
    if not asset.media_id or asset.uploaded_at is None:
        return True
    return asset.uploaded_at + WECOM_MEDIA_LIFETIME - margin <= timezone.now()


def media_upload(*, asset: MediaAsset, client: WeComClient | None = None) -> MediaAsset:
    """Upload (again) to WeCom and record the new media_id. Calls WeCom: hold no locks."""
    client = client or wecom_client()
    with asset.file.open("rb") as handle:
        result = client.post(
            "media/upload",
            params={"type": asset.kind},
            files={"media": (asset.name, handle.read(), asset.content_type)},
        )
    MediaAsset.objects.filter(pk=asset.pk).update(
        media_id=result["media_id"], uploaded_at=timezone.now()
    )
    asset.refresh_from_db()
    return asset


def media_id_for(*, asset: MediaAsset, client: WeComClient | None = None) -> str:
    """A media_id WeCom still knows, uploading first if needed."""
    if media_needs_upload(asset, margin=timedelta(hours=1)):
        asset = media_upload(asset=asset, client=client)
    return asset.media_id


def media_refresh_expiring(*, client: WeComClient | None = None) -> int:
    """Re-upload kept-fresh assets whose media_id expires within the margin."""
    cutoff = timezone.now() - (WECOM_MEDIA_LIFETIME - REFRESH_MARGIN)
    assets = MediaAsset.objects.filter(keep_fresh=True, uploaded_at__lte=cutoff).order_by("pk")
    count = 0
    for asset in assets.iterator():
        media_upload(asset=asset, client=client)
        count += 1
    return count


def message_attachments(items: list[dict[str, Any]], client: WeComClient) -> list[dict[str, Any]]:
    """Library references of a message (welcome, group send) -> WeCom's attachment format,
    media_ids fresh from the library; an item removed from the library since is skipped."""
    out: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("msgtype")
        if kind in ("image", "file", "video"):
            asset = MediaAsset.objects.filter(pk=int(item.get("media") or 0)).first()
            if asset is None:
                continue  # removed from the library since: skipped, not fatal
            out.append(
                {"msgtype": kind, kind: {"media_id": media_id_for(asset=asset, client=client)}}
            )
        elif kind == "link":
            out.append(
                {
                    "msgtype": "link",
                    "link": {k: item.get(k, "") for k in ("title", "picurl", "desc", "url")},
                }
            )
        elif kind == "miniprogram":
            asset = MediaAsset.objects.filter(pk=int(item.get("pic_media") or 0)).first()
            if asset is None:
                continue
            out.append(
                {
                    "msgtype": "miniprogram",
                    "miniprogram": {
                        "title": item.get("title", ""),
                        "pic_media_id": media_id_for(asset=asset, client=client),
                        "appid": item.get("appid", ""),
                        "page": item.get("page", ""),
                    },
                }
            )
    return out
