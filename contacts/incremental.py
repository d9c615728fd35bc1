"""Keep the contact book current between full syncs, one WeCom change at a time.

Each function fetches what it needs from WeCom, upserts, and writes timeline entries keyed
so that running it twice writes nothing more. Status changes carry WeCom's event time and
never override a newer change, so duplicate and out-of-order callbacks leave the right
final state.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from contacts.models import Customer, CustomerEvent, Guide, Relation
from contacts.services import customer_event_record, directory_client
from contacts.upserts import (
    added_dedupe_key,
    customer_row,
    customers_upsert,
    follow_row,
    from_epoch,
    guides_upsert,
    member_row,
    relations_upsert,
)
from privacy.erased import erased_readmit, is_erased
from scrm.wecom.client import WeComClient, wecom_client
from scrm.wecom.errors import WeComError
from webhooks.emit import emit_customer_deleted, emit_customer_tagged

logger = logging.getLogger(__name__)

NO_RELATION = {84061, 40096}  # no such external contact (any more)
NO_MEMBER = {60111, 40003, 46004}  # no such member


def guide_ensure(*, userid: str) -> Guide:
    """The guide with this userid, fetched from WeCom if we have not seen them yet."""
    guide = Guide.objects.filter(userid=userid).first()
    if guide is not None:
        return guide
    return guide_refresh(userid=userid)


def guide_refresh(*, userid: str) -> Guide:
    """Read a member from WeCom and upsert the guide (a member WeCom no longer knows is
    kept under its userid, departed)."""
    try:
        member = directory_client(priority="bulk").get("user/get", params={"userid": userid})
    except WeComError as exc:
        if exc.errcode not in NO_MEMBER:
            raise
        member = {"userid": userid, "name": userid, "status": 5}
    guides_upsert([member_row(member, customer_contact=True)])
    return Guide.objects.get(userid=userid)


@dataclass
class CustomerFetch:
    contact: dict[str, Any]
    follows: list[dict[str, Any]]


def customer_fetch(*, external_userid: str, client: WeComClient) -> CustomerFetch | None:
    """externalcontact/get with every page of follow users; None if WeCom has no relation
    with this customer any more."""
    follows: list[dict[str, Any]] = []
    contact: dict[str, Any] = {}
    cursor = ""
    while True:
        try:
            response = client.get(
                "externalcontact/get",
                params={"external_userid": external_userid, "cursor": cursor},
            )
        except WeComError as exc:
            if exc.errcode in NO_RELATION:
                return None
            raise
        contact = response.get("external_contact") or contact
        follows += response.get("follow_user") or []
        cursor = response.get("next_cursor") or ""
        if not cursor:
            return CustomerFetch(contact, follows)


def customer_refresh(
    *, external_userid: str, client: WeComClient | None = None
) -> CustomerFetch | None:
    """Upsert a customer and all their relations as WeCom has them now."""
    client = client or wecom_client(app_kind="customer_contact", priority="bulk")
    fetched = customer_fetch(external_userid=external_userid, client=client)
    if fetched is None:
        return None
    userids = {str(f.get("userid")) for f in fetched.follows if f.get("userid")}
    known = set(Guide.objects.filter(userid__in=userids).values_list("userid", flat=True))
    for userid in sorted(userids - known):
        guide_refresh(userid=userid)
    rows = [follow_row(external_userid, f) for f in fetched.follows if f.get("userid")]
    latest = max((row[-1] for row in rows), default=from_epoch(0))
    with transaction.atomic():
        customers_upsert([customer_row(fetched.contact, latest)])
        relations_upsert(rows)
    return fetched


def customer_stub(*, external_userid: str) -> Customer:
    """The customer row, created bare when WeCom can no longer tell us who they were."""
    customer, _ = Customer.objects.get_or_create(external_userid=external_userid)
    return customer


def relation_added(
    *, userid: str, external_userid: str, at: datetime, pending: bool = False, event_key: str
) -> Relation | None:
    """add_external_contact / add_half_external_contact: upsert from WeCom.

    If WeCom no longer has the relation (deleted since), a relation we hold as deleted
    keeps its status and learns the earlier add time.
    """
    guide_ensure(userid=userid)
    erased_readmit(external_userid=external_userid, added_at=at)  # a new add: they came back
    fetched = customer_refresh(external_userid=external_userid)
    relation = (
        Relation.objects.filter(guide__userid=userid, customer__external_userid=external_userid)
        .select_related("customer")
        .first()
    )
    if relation is None:
        return None
    alive = fetched is not None and any(str(f.get("userid")) == userid for f in fetched.follows)
    if not alive and relation.status != Relation.Status.ACTIVE and at < relation.added_at:
        Relation.objects.filter(pk=relation.pk).update(added_at=at)
        customer_event_record(
            customer_id=relation.customer_id,
            kind=CustomerEvent.Kind.ADDED,
            occurred_at=at,
            guide_id=relation.guide_id,
            dedupe_key=added_dedupe_key(relation.pk, at),
        )
    if pending:
        customer_event_record(
            customer_id=relation.customer_id,
            kind=CustomerEvent.Kind.PENDING,
            occurred_at=at,
            guide_id=relation.guide_id,
            dedupe_key=f"{event_key}:pending",
        )
    return relation


def relation_edited(*, userid: str, external_userid: str, at: datetime, event_key: str) -> None:
    """edit_external_contact: the guide changed the remark or the tags in WeCom."""
    before = Relation.objects.filter(
        guide__userid=userid, customer__external_userid=external_userid
    ).first()
    guide_ensure(userid=userid)
    customer_refresh(external_userid=external_userid)
    after = Relation.objects.filter(
        guide__userid=userid, customer__external_userid=external_userid
    ).first()
    if after is None:
        return
    fields = ("remark", "description", "remark_mobiles", "remark_corp_name")
    changed = {
        name: getattr(after, name)
        for name in fields
        if before is None or getattr(before, name) != getattr(after, name)
    }
    if changed and before is not None:
        customer_event_record(
            customer_id=after.customer_id,
            kind=CustomerEvent.Kind.EDITED,
            occurred_at=at,
            guide_id=after.guide_id,
            data={"by": "wecom", **changed},
            dedupe_key=f"{event_key}:edited",
        )
    old_tags = set(before.wecom_tag_ids) if before is not None else set()
    new_tags = set(after.wecom_tag_ids)
    if old_tags != new_tags:
        customer_event_record(
            customer_id=after.customer_id,
            kind=CustomerEvent.Kind.TAGGED,
            occurred_at=at,
            guide_id=after.guide_id,
            data={"added": sorted(new_tags - old_tags), "removed": sorted(old_tags - new_tags)},
            dedupe_key=f"{event_key}:tagged",
        )
        emit_customer_tagged(
            relation_id=after.pk,
            added=sorted(new_tags - old_tags),
            removed=sorted(old_tags - new_tags),
            at=at,
            source="wecom",
        )


DELETION_KINDS = {
    Relation.Status.DELETED_BY_CUSTOMER: CustomerEvent.Kind.DELETED_BY_CUSTOMER,
    Relation.Status.DELETED_BY_GUIDE: CustomerEvent.Kind.DELETED_BY_GUIDE,
    Relation.Status.TRANSFERRED: CustomerEvent.Kind.TRANSFERRED,
}


def relation_ended(
    *, userid: str, external_userid: str, status: str, at: datetime, event_key: str
) -> Relation | None:
    """del_follow_user / del_external_contact: the relation ended at `at`.

    Returns the relation when this event changed its status (None for a stale or repeated
    event), so callers alert only once.
    """
    guide = guide_ensure(userid=userid)
    customer = Customer.objects.filter(external_userid=external_userid).first()
    if customer is None and is_erased(external_userid):
        return None
    if customer is None:
        # Never seen: learn who they were (their other relations may live on).
        customer_refresh(external_userid=external_userid)
        customer = customer_stub(external_userid=external_userid)
    with transaction.atomic():
        relation, created = Relation.objects.select_for_update().get_or_create(
            guide=guide,
            customer=customer,
            defaults={
                "added_at": at,
                "status": status,
                "status_changed_at": at,
                "deleted_at": at,
            },
        )
        applied = created
        newer = relation.status_changed_at is None or at >= relation.status_changed_at
        # The same ending reported twice (a re-send with a new CreateTime) changes nothing.
        if not created and newer and relation.status != status:
            applied = True
            relation.status, relation.status_changed_at, relation.deleted_at = status, at, at
            relation.updated_at = timezone.now()
            relation.save(update_fields=["status", "status_changed_at", "deleted_at", "updated_at"])
        if not applied:
            return None
        customer_event_record(
            customer_id=customer.pk,
            kind=DELETION_KINDS[Relation.Status(status)],
            occurred_at=at,
            guide_id=guide.pk,
            dedupe_key=f"{event_key}:ended",
        )
        emit_customer_deleted(relation_id=relation.pk, status=status, at=at)
    return relation


def transfer_failed(
    *, takeover_userid: str, external_userid: str, reason: str, at: datetime, event_key: str
) -> None:
    customer = Customer.objects.filter(external_userid=external_userid).first()
    if customer is None:
        return
    guide = Guide.objects.filter(userid=takeover_userid).first()
    customer_event_record(
        customer_id=customer.pk,
        kind=CustomerEvent.Kind.TRANSFER_FAILED,
        occurred_at=at,
        guide_id=guide.pk if guide else None,
        data={"reason": reason, "takeover_userid": takeover_userid},
        dedupe_key=f"{event_key}:transfer_failed",
    )


def guide_renamed(*, old_userid: str, new_userid: str) -> None:
    """WeCom lets an admin change a userid once; our row follows (it is keyed by our id)."""
    with transaction.atomic():
        old = Guide.objects.select_for_update().filter(userid=old_userid).first()
        new = Guide.objects.select_for_update().filter(userid=new_userid).first()
        if old is None:
            return
        if new is None:
            old.userid = new_userid
            old.save(update_fields=["userid"])
            return
        # An event about the new userid got here first and created a second row: fold the
        # old row's relations into it.
        taken = set(Relation.objects.filter(guide=new).values_list("customer_id", flat=True))
        Relation.objects.filter(guide=old).exclude(customer_id__in=taken).update(guide=new)
        old.status = Guide.Status.DEPARTED
        old.userid = f"{old_userid}~renamed~{old.pk}"[:64]
        old.save(update_fields=["status", "userid"])


def guide_departed(*, userid: str, at: datetime) -> Guide | None:
    """change_contact/delete_user: the member left the corp. Their relations stay active:
    WeCom keeps them until they are handed over."""
    guide = Guide.objects.filter(userid=userid).first()
    if guide is None:
        return None
    if guide.status != Guide.Status.DEPARTED:
        guide.status, guide.departed_at = Guide.Status.DEPARTED, at
        guide.save(update_fields=["status", "departed_at"])
    return guide
