"""Full sync with WeCom: stores and guides, every guide's customers, group chats, then a
sweep of relations WeCom no longer has.

A run is a checkpointed state machine (`SyncRun`): each flush commits the upserted rows and
the position reached (batch of guides, WeCom cursor) in one transaction, so a worker killed
at any point resumes from the last flush and re-reads at most one flush worth of pages;
re-reading is harmless because every write is an idempotent upsert.

A worker holds the run through a lease (`lease_until`), renewed at each flush; a killed
worker's lease runs out and `sync_resume_stale` queues the run again.
"""

import logging
import time
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import GroupChat, Guide, Relation, Store, SyncRun
from contacts.services import directory_client
from contacts.upserts import (
    customer_row,
    customers_upsert,
    follow_row,
    guides_upsert,
    member_row,
    relations_upsert,
    stores_upsert,
)
from scrm.wecom.client import WeComClient, wecom_client
from scrm.wecom.errors import WeComError

logger = logging.getLogger(__name__)

GUIDES_PER_CALL = 100  # batch/get_by_user: userid_list ≤ 100
CONTACTS_PER_PAGE = 100  # batch/get_by_user: limit ≤ 100
FLUSH_ROWS = 2000  # relations buffered before a flush (one transaction)
FLUSH_SECONDS = 5.0
CHAT_OWNERS_PER_CALL = 100  # groupchat/list owner_filter ≤ 100
LEASE = timedelta(minutes=2)
MAX_WAIT = 5.0  # seconds a sync may wait in-process for a rate-limiter slot


class SyncNotClaimed(Exception):
    """Another worker holds the run, or it is finished."""


def _stat(run: SyncRun, **increments: int) -> None:
    for name, value in increments.items():
        run.stats[name] = int(run.stats.get(name, 0)) + value


def sync_claim(*, sync_run_id: int) -> SyncRun:
    """Take the run's lease (conditional UPDATE: two workers never both win)."""
    now = timezone.now()
    claimed = (
        SyncRun.objects.filter(pk=sync_run_id, in_flight=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            status=SyncRun.Status.RUNNING,
            lease_until=now + LEASE,
            heartbeat_at=now,
        )
    )
    if not claimed:
        raise SyncNotClaimed(sync_run_id)
    run = SyncRun.objects.get(pk=sync_run_id)
    if run.started_at is None:
        run.started_at = now
        run.save(update_fields=["started_at"])
    return run


def _checkpoint(run: SyncRun, **fields: Any) -> None:
    """Save the run's position; call inside the transaction that wrote the rows."""
    now = timezone.now()
    for name, value in fields.items():
        setattr(run, name, value)
    run.heartbeat_at = now
    run.lease_until = now + LEASE
    run.save(
        update_fields=[
            *fields,
            "stats",
            "heartbeat_at",
            "lease_until",
        ]
    )


def sync_run(*, sync_run_id: int) -> str:
    """Run or resume a full sync until it finishes; returns the run's status.

    Raises WeComError for transient WeCom failures (the task retries) and the limiter's
    Throttled (the task comes back later); a permanent WeCom error fails the run.
    """
    try:
        run = sync_claim(sync_run_id=sync_run_id)
    except SyncNotClaimed:
        return "skipped"
    try:
        client = wecom_client(app_kind="customer_contact", priority="bulk", max_wait=MAX_WAIT)
        if run.phase == SyncRun.Phase.DIRECTORY:
            _sync_directory(run)
        if run.phase == SyncRun.Phase.CONTACTS:
            _sync_contacts(run, client)
        if run.phase == SyncRun.Phase.GROUP_CHATS:
            _sync_group_chats(run, client)
        if run.phase == SyncRun.Phase.SWEEP:
            _sweep(run)
    except WeComError as exc:
        if exc.transient:
            raise
        _fail(run, f"{exc.errcode}: {exc}")
        return SyncRun.Status.FAILED
    except Exception as exc:
        _fail(run, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        SyncRun.objects.filter(pk=run.pk).update(lease_until=None)
    return SyncRun.Status.DONE


def _fail(run: SyncRun, error: str) -> None:
    logger.warning("sync #%s failed: %s", run.pk, error)
    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.FAILED,
        in_flight=None,
        error=error[:2000],
        finished_at=timezone.now(),
        lease_until=None,
    )


# --- directory ---------------------------------------------------------------------------


def _sync_directory(run: SyncRun) -> None:
    client = directory_client(priority="bulk")
    departments = client.get("department/list").get("department", [])
    follow_users = set(
        wecom_client(app_kind="customer_contact", priority="bulk", max_wait=MAX_WAIT)
        .get("externalcontact/get_follow_user_list")
        .get("follow_user", [])
    )
    roots = [
        d
        for d in departments
        if int(d.get("parentid") or 0) not in {int(x["id"]) for x in departments}
    ]
    members: dict[str, dict[str, Any]] = {}
    for root in roots or [{"id": 1}]:
        listed = client.get(
            "user/list", params={"department_id": root["id"], "fetch_child": 1}
        ).get("userlist", [])
        for member in listed:
            members[str(member.get("userid"))] = member
    # Customer-contact members outside the listed range still hold customers.
    for userid in sorted(follow_users - set(members)):
        members[userid] = client.get("user/get", params={"userid": userid})
    with transaction.atomic():
        stores = stores_upsert(departments)
        rows = [member_row(m, customer_contact=u in follow_users) for u, m in members.items()]
        guides = guides_upsert(rows)
        # Members WeCom no longer lists have left the corp.
        departed = (
            Guide.objects.filter(status=Guide.Status.ACTIVE)
            .exclude(userid__in=list(members))
            .update(status=Guide.Status.DEPARTED, departed_at=timezone.now())
        )
        _store_managers(departments)
        _stat(run, stores=stores, guides=guides, guides_departed=departed)
        active = sorted(
            Guide.objects.filter(status=Guide.Status.ACTIVE, customer_contact=True).values_list(
                "userid", flat=True
            )
        )
        _checkpoint(
            run,
            phase=SyncRun.Phase.CONTACTS,
            guide_userids=active,
            batch_index=0,
            cursor="",
        )


def _store_managers(departments: list[dict[str, Any]]) -> None:
    leaders = {
        int(d["id"]): [str(u) for u in d.get("department_leader") or []]
        for d in departments
        if d.get("department_leader")
    }
    if not leaders:
        return
    stores = {s.department_id: s for s in Store.objects.filter(department_id__in=list(leaders))}
    guides = dict(
        Guide.objects.filter(
            userid__in=[u for userids in leaders.values() for u in userids]
        ).values_list("userid", "id")
    )
    for department_id, userids in leaders.items():
        store = stores.get(department_id)
        if store is not None:
            store.managers.add(*[guides[u] for u in userids if u in guides])


# --- customers ---------------------------------------------------------------------------


def _flush(run: SyncRun, pages: list[list[dict[str, Any]]], **position: Any) -> None:
    customers: list[tuple[Any, ...]] = []
    follows: list[tuple[Any, ...]] = []
    for page in pages:
        for item in page:
            contact = item.get("external_contact") or {}
            follow = item.get("follow_info") or {}
            external_userid = str(contact.get("external_userid") or "")
            if not external_userid or not follow.get("userid"):
                continue
            row = follow_row(external_userid, follow)
            follows.append(row)
            customers.append(customer_row(contact, row[-1]))
    with transaction.atomic():
        inserted, updated = customers_upsert(customers)
        result = relations_upsert(follows)
        _stat(
            run,
            pages=len(pages),
            relations_seen=len(follows),
            customers_new=inserted,
            customers_updated=updated,
            relations_new=result.inserted,
            relations_revived=result.revived,
            relations_skipped=result.skipped,
        )
        _checkpoint(run, **position)


def _sync_contacts(run: SyncRun, client: WeComClient) -> None:
    userids = run.guide_userids
    batch_index, cursor = run.batch_index, run.cursor
    pages: list[list[dict[str, Any]]] = []
    buffered = 0
    last_flush = time.monotonic()
    while batch_index * GUIDES_PER_CALL < len(userids):
        batch = userids[batch_index * GUIDES_PER_CALL : (batch_index + 1) * GUIDES_PER_CALL]
        response = client.post(
            "externalcontact/batch/get_by_user",
            data={"userid_list": batch, "cursor": cursor, "limit": CONTACTS_PER_PAGE},
        )
        page = response.get("external_contact_list") or []
        pages.append(page)
        buffered += len(page)
        cursor = response.get("next_cursor") or ""
        if not cursor:
            batch_index, cursor = batch_index + 1, ""
        if buffered >= FLUSH_ROWS or time.monotonic() - last_flush >= FLUSH_SECONDS:
            _flush(run, pages, batch_index=batch_index, cursor=cursor)
            pages, buffered, last_flush = [], 0, time.monotonic()
    # batch_index starts over: the group chats phase walks owners with it.
    _flush(run, pages, batch_index=0, cursor="", phase=SyncRun.Phase.GROUP_CHATS)


# --- group chats -------------------------------------------------------------------------


def _sync_group_chats(run: SyncRun, client: WeComClient) -> None:
    from contacts.chats import group_chat_refresh

    owners = sorted(Guide.objects.values_list("userid", flat=True))
    chunk_index = run.batch_index
    while chunk_index * CHAT_OWNERS_PER_CALL < len(owners):
        chunk = owners[
            chunk_index * CHAT_OWNERS_PER_CALL : (chunk_index + 1) * CHAT_OWNERS_PER_CALL
        ]
        chats: list[tuple[str, int]] = []
        cursor = ""
        while True:
            response = client.post(
                "externalcontact/groupchat/list",
                data={
                    "status_filter": 0,
                    "owner_filter": {"userid_list": chunk},
                    "cursor": cursor,
                    "limit": 1000,
                },
            )
            chats += [
                (str(c["chat_id"]), int(c.get("status") or 0))
                for c in response.get("group_chat_list") or []
            ]
            cursor = response.get("next_cursor") or ""
            if not cursor:
                break
        with transaction.atomic():
            for chat_id, status in chats:
                group_chat_refresh(chat_id=chat_id, client=client, wecom_status=status)
            _stat(run, group_chats=len(chats))
            chunk_index += 1
            _checkpoint(run, batch_index=chunk_index, chat_ids_done=run.chat_ids_done + len(chats))
    with transaction.atomic():
        # Chats WeCom no longer lists were dismissed while we were not told.
        gone = (
            GroupChat.objects.exclude(status=GroupChat.Status.DISMISSED)
            .filter(Q(synced_at__lt=run.started_at) | Q(synced_at__isnull=True))
            .update(status=GroupChat.Status.DISMISSED, dismissed_at=timezone.now())
        )
        _stat(run, group_chats_dismissed=gone)
        _checkpoint(run, phase=SyncRun.Phase.SWEEP, batch_index=0)


# --- sweep -------------------------------------------------------------------------------

SWEEP_SQL = """
WITH gone AS (
    UPDATE contacts_relation r
    SET status = %(vanished)s, status_changed_at = %(now)s, deleted_at = %(now)s,
        updated_at = %(now)s
    FROM contacts_guide g
    WHERE r.guide_id = g.id AND g.userid = ANY(%(userids)s) AND r.status = 'active'
      AND r.confirmed_at < %(started)s
    RETURNING r.id, r.customer_id, r.guide_id
)
INSERT INTO contacts_customerevent (customer_id, kind, occurred_at, guide_id, data, dedupe_key,
                                    created_at)
SELECT customer_id, %(vanished)s, %(now)s, guide_id, '{}'::jsonb,
       'vanished:' || id || ':' || %(run)s, %(now)s
FROM gone
ON CONFLICT (dedupe_key) DO NOTHING
"""


def _sweep(run: SyncRun) -> None:
    """Relations of the guides this run listed that WeCom did not report are gone."""
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                SWEEP_SQL,
                {
                    "vanished": Relation.Status.VANISHED.value,
                    "now": now,
                    "userids": run.guide_userids,
                    "started": run.started_at,
                    "run": str(run.pk),
                },
            )
            _stat(run, relations_vanished=cursor.rowcount)
        _checkpoint(
            run,
            phase=SyncRun.Phase.FINISHED,
            status=SyncRun.Status.DONE,
            in_flight=None,
            finished_at=now,
        )


def sync_resume_stale() -> int:
    """Queue again the runs whose worker died (lease ran out) or that never started."""
    from contacts.tasks import contacts_sync_task
    from scrm.tenant_tasks import enqueue

    now = timezone.now()
    stale = list(
        SyncRun.objects.filter(in_flight=True)
        .filter(
            Q(status=SyncRun.Status.RUNNING, lease_until__lt=now)
            | Q(
                status=SyncRun.Status.RUNNING,
                lease_until__isnull=True,
                heartbeat_at__lt=now - LEASE,
            )
            | Q(status=SyncRun.Status.QUEUED, created_at__lt=now - LEASE)
        )
        .values_list("pk", flat=True)
    )
    for run_id in stale:
        enqueue(contacts_sync_task, sync_run_id=run_id)
    return len(stale)
