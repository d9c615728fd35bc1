"""Media kept in the platform and their WeCom temporary media_ids (valid 3 days)."""

import hashlib
from datetime import timedelta

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
