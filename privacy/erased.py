"""Recognising erased customers by a keyed hash of their external_userid.

The contact book's upserts ask `erased_among` which of the ids WeCom reports belong to
erased customers and skip those, so a sync or a callback does not bring an erased
customer's WeCom profile back while a guide still has them as a WeCom friend. A customer who
adds a guide again after the erasure starts over as a new customer (`erased_readmit`): that
add is their own new act.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Exists

from privacy.models import ErasedContact, PrivacySettings


def privacy_settings() -> PrivacySettings:
    """The tenant's settings row, created with a random hash key the first time."""
    options = PrivacySettings.objects.order_by("pk").first()
    if options is None:
        options, _ = PrivacySettings.objects.get_or_create(
            pk=1, defaults={"hash_key": secrets.token_urlsafe(32)}
        )
    if not options.hash_key:
        options.hash_key = secrets.token_urlsafe(32)
        options.save(update_fields=["hash_key"])
    return options


def id_hash(external_userid: str, *, key: str) -> str:
    return hmac.new(key.encode(), external_userid.encode(), hashlib.sha256).hexdigest()


def _key_if_any_erased() -> str | None:
    """The hash key, or None when nobody was ever erased (one query either way)."""
    key = (
        PrivacySettings.objects.filter(Exists(ErasedContact.objects.all()))
        .exclude(hash_key="")
        .order_by("pk")
        .values_list("hash_key", flat=True)
        .first()
    )
    return key or None


def erased_among(external_userids: Iterable[str]) -> set[str]:
    """The ids among `external_userids` that belong to erased customers. One query when
    nobody was ever erased, two otherwise."""
    ids = {external_userid for external_userid in external_userids if external_userid}
    if not ids:
        return set()
    key = _key_if_any_erased()
    if key is None:
        return set()
    by_hash = {id_hash(external_userid, key=key): external_userid for external_userid in ids}
    found = ErasedContact.objects.filter(id_hash__in=list(by_hash)).values_list(
        "id_hash", flat=True
    )
    return {by_hash[found_hash] for found_hash in found}


def is_erased(external_userid: str) -> bool:
    return bool(erased_among([external_userid]))


@transaction.atomic
def erased_readmit(*, external_userid: str, added_at: datetime) -> bool:
    """A WeCom add (add_external_contact) of an erased customer, made after the erasure: the
    customer came back on their own, so they are no longer skipped. True when forgotten."""
    if not external_userid:
        return False
    key = _key_if_any_erased()
    if key is None:
        return False
    deleted, _ = ErasedContact.objects.filter(
        id_hash=id_hash(external_userid, key=key), erased_at__lt=added_at
    ).delete()
    return bool(deleted)
