"""Helpers of the privacy tests: a customer with data in every app, and a scan of every
text, JSON and array column of a tenant schema (read from information_schema, so a table
added later is scanned without anyone listing it here)."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from accounts.models import AuditLogEntry
from accounts.services import audit_record
from broadcast.models import Broadcast
from broadcast.models import Delivery as BroadcastDelivery
from channels_qr.models import Channel, WelcomeLog
from contacts.models import Customer, CustomerEvent, Guide, Relation, Store
from contacts.services import customer_event_record
from contacts.tests.factories import GroupChatFactory, GroupChatMemberFactory
from handover.models import Handover, TransferItem
from lifecycle.models import CustomerStage, Stage
from orders.models import OrderImport, OrderImportRow
from scrm.wecom.models import CallbackEvent
from sidebar.services import follow_up_create, note_create
from tagging.models import BulkTagJob, BulkTagRow, Tag, TagGroup
from webhooks.emit import emit_customer_deleted, emit_customers_added
from webhooks.models import Attempt, Endpoint
from webhooks.models import Delivery as WebhookDelivery

TEXT_TYPES = ("text", "character varying", "json", "jsonb", "ARRAY", "character")


@dataclass
class Person:
    """A customer with data about them everywhere, and what identifies them."""

    customer: Customer
    name: str
    external_userid: str
    unionid: str
    phones: list[str]  # as the guide typed them
    normalised: list[str]
    relations: list[Relation] = field(default_factory=list)
    broadcast: Broadcast | None = None
    handover: Handover | None = None

    def needles(self) -> dict[str, str]:
        """What must not remain, by a label for the failure message."""
        found = {"name": self.name, "external_userid": self.external_userid}
        found["unionid"] = self.unionid
        for phone in self.phones:
            found[f"phone {phone!r}"] = phone
        for phone in self.normalised:
            found[f"normalised {phone}"] = phone
            found[f"+86{phone}"] = "+86" + phone
            found[f"dashed {phone}"] = f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
        return found


def ago(**delta: Any) -> Any:
    return timezone.now() - timedelta(**delta)


def _push(client: Any, key: dict[str, str], path: str, body: dict[str, Any], **headers: Any) -> Any:
    response = client.post(path, body, content_type="application/json", **key, **headers)
    assert response.status_code in (200, 201), response.content
    return response.json()


def build_person(
    client: Any,
    key: dict[str, str],
    *,
    name: str,
    external_userid: str,
    unionid: str,
    phones: list[str],
    normalised: list[str],
    store: Store,
    guides: tuple[Guide, Guide],
    channel: Channel,
    tag: Tag,
    endpoint: Endpoint,
    tag_suffix: str,
) -> Person:
    """A customer held by two guides (one relation ended), with a timeline, notes and
    follow-ups, an order matched by phone and one by external_userid, a custom event, a
    group send, a handover, a group chat, a welcome message, bulk tagging, a WeCom callback,
    webhook events, audit entries and an imported order row naming them."""
    amy, bob = guides
    customer = Customer.objects.create(
        external_userid=external_userid,
        name=name,
        avatar=f"https://wework.qpic.cn/avatar/{tag_suffix}",
        unionid=unionid,
        corp_name=f"{name}的公司",
        position="店长",
        gender=Customer.Gender.MALE,
    )
    person = Person(customer, name, external_userid, unionid, phones, normalised)
    held = Relation.objects.create(
        guide=amy,
        customer=customer,
        remark=f"{name} VIP",
        description=f"{name}，住在杭州",
        remark_corp_name=f"{name}的公司",
        remark_mobiles=phones,
        add_way=Relation.AddWay.QR_CODE,
        state=f"chan-{tag_suffix}",
        channel=channel,
        wecom_tag_ids=[tag.tag_id],
        added_at=ago(days=3),
    )
    ended_at = ago(days=2)
    ended = Relation.objects.create(
        guide=bob,
        customer=customer,
        remark=name,
        remark_mobiles=phones[:1],
        added_at=ago(days=10),
        status=Relation.Status.DELETED_BY_CUSTOMER,
        status_changed_at=ended_at,
        deleted_at=ended_at,
    )
    person.relations = [held, ended]
    # timeline: an add, a remark edit with its phones, notes and follow-ups
    customer_event_record(
        customer_id=customer.pk,
        kind=CustomerEvent.Kind.ADDED,
        occurred_at=held.added_at,
        guide_id=amy.pk,
    )
    customer_event_record(
        customer_id=customer.pk,
        kind=CustomerEvent.Kind.EDITED,
        occurred_at=ago(days=1),
        guide_id=amy.pk,
        data={
            "by": "wecom",
            "remark": f"{name} VIP",
            "remark_mobiles": phones,
            "before": {"remark": name, "remark_mobiles": phones[:1]},
        },
    )
    note_create(
        customer=customer, text=f"{name}喜欢绿茶，电话{normalised[0]}", author="Amy", guide=amy
    )
    follow_up_create(
        customer=customer,
        title=f"给{name}打电话 {phones[1]}",
        due=timezone.now() + timedelta(days=2),
        author="Amy",
        guide=amy,
    )
    # orders and a custom event, pushed like an integrator does
    _push(
        client,
        key,
        "/api/v1/orders/",
        {
            "order_id": f"P-{tag_suffix}",
            "phone": phones[0],
            "amount": "199.00",
            "paid_at": ago(days=1).isoformat(),
        },
        HTTP_IDEMPOTENCY_KEY=f"idem-{tag_suffix}",
    )
    _push(
        client,
        key,
        "/api/v1/orders/",
        {
            "order_id": f"E-{tag_suffix}",
            "external_userid": external_userid,
            "unionid": unionid,
            "amount": "88.00",
            "paid_at": ago(hours=5).isoformat(),
        },
    )
    _push(
        client,
        key,
        "/api/v1/events/",
        {
            "type": "coupon_used",
            "external_userid": external_userid,
            "occurred_at": ago(hours=2).isoformat(),
            "properties": {"phone": normalised[1], "contact": name, "coupon": "SPRING"},
        },
    )
    # a group send and a handover
    person.broadcast = Broadcast.objects.create(
        name=f"春季活动 {tag_suffix}",
        text="春季新品上市",
        audience=Broadcast.Audience.CUSTOMERS,
        audience_ids=[external_userid],
        status=Broadcast.Status.DONE,
    )
    BroadcastDelivery.objects.create(
        broadcast=person.broadcast,
        customer=customer,
        target=external_userid,
        sender=amy,
        status=BroadcastDelivery.Status.SENT,
        sent_at=ago(hours=30),
    )
    person.handover = Handover.objects.create(
        kind=Handover.Kind.ON_DUTY,
        trigger=Handover.Trigger.OPERATOR,
        status=Handover.Status.DONE,
    )
    TransferItem.objects.create(
        handover=person.handover,
        customer=customer,
        external_id=external_userid,
        from_guide=bob,
        to_guide=amy,
        status=TransferItem.Status.ACCEPTED,
    )
    # a group chat, a welcome message, bulk tagging
    chat = GroupChatFactory(owner=amy, name=f"VIP群 {tag_suffix}")
    GroupChatMemberFactory(
        chat=chat,
        customer=customer,
        userid=external_userid,
        name=name,
        group_nickname=f"{name}（杭州）",
        unionid=unionid,
    )
    callback = CallbackEvent.objects.create(
        app_kind="customer_contact",
        dedupe_key=f"privacy-test-{tag_suffix}",
        event="change_external_contact",
        change_type="add_external_contact",
        payload={
            "Event": "change_external_contact",
            "ChangeType": "add_external_contact",
            "UserID": amy.userid,
            "ExternalUserID": external_userid,
            "State": held.state,
        },
        raw_xml=(
            "<xml><Event><![CDATA[change_external_contact]]></Event>"
            f"<UserID><![CDATA[{amy.userid}]]></UserID>"
            f"<ExternalUserID><![CDATA[{external_userid}]]></ExternalUserID></xml>"
        ),
        status=CallbackEvent.Status.DONE,
        create_time=held.added_at,
    )
    WelcomeLog.objects.create(
        event_id=callback.pk,
        channel=channel,
        state=held.state,
        userid=amy.userid,
        external_userid=external_userid,
        outcome="sent",
        event_at=held.added_at,
    )
    job = BulkTagJob.objects.create(
        action=BulkTagJob.Action.ADD,
        tag_ids=[tag.tag_id],
        source=BulkTagJob.Source.CSV,
        file_name="vip.csv",
    )
    BulkTagRow.objects.create(job=job, line=2, value=normalised[0], relation=held)
    BulkTagRow.objects.create(job=job, line=3, value=external_userid, relation=held)
    # webhook events about them, and a receiver that echoed one back
    emit_customers_added(relation_ids=[held.pk])
    emit_customer_deleted(relation_id=ended.pk, status=ended.status, at=ended_at)
    delivery = WebhookDelivery.objects.filter(event__data__customer__id=customer.pk).first()
    assert delivery is not None
    Attempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=timezone.now(),
        status_code=500,
        response_excerpt=f'{{"error": "unknown customer {external_userid}"}}',
        failure=Attempt.Failure.HTTP,
    )
    # audit entries: a remark edit (the relation) and an export filtered by their phone
    audit_record(
        action="contacts.remark_updated",
        target=held,
        detail={"remark": f"{name} VIP", "remark_mobiles": phones},
    )
    audit_record(
        action="contacts.exported",
        detail={"filters": {"q": normalised[0]}, "rows": 1},
    )
    # a CSV import naming them, and their lifecycle stage
    job_import = OrderImport.objects.create(file_name="orders.csv", planned=True)
    OrderImportRow.objects.create(
        job=job_import,
        line=2,
        order_id=f"CSV-{tag_suffix}",
        data={
            "order_id": f"CSV-{tag_suffix}",
            "external_userid": "",
            "unionid": "",
            "phone": normalised[1],
            "amount": "10.00",
        },
        status=OrderImportRow.Status.CREATED,
    )
    CustomerStage.objects.create(customer=customer, stage=Stage.FIRST_ORDER, since=ago(days=1))
    return person


def world_setup(tag_suffix: str = "w") -> dict[str, Any]:
    """Guides, a store, a channel, a tag and a webhook endpoint."""
    store = Store.objects.create(department_id=9100, name="西湖店")
    amy = Guide.objects.create(userid="amy", name="Amy", store=store)
    bob = Guide.objects.create(userid="bob", name="Bob", store=store)
    channel = Channel.objects.create(name="门店海报")
    group = TagGroup.objects.create(group_id="etGROUP", name="等级")
    tag = Tag.objects.create(tag_id="etVIP", group=group, name="VIP")
    endpoint = Endpoint.objects.create(
        url="https://crm.example.com/hooks",
        secret="whsec_test",
        event_types=["customer.added", "customer.deleted"],
    )
    return {
        "store": store,
        "guides": (amy, bob),
        "channel": channel,
        "tag": tag,
        "endpoint": endpoint,
    }


# --- scanning the tenant schema --------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    table: str
    column: str
    row: str  # the row's primary key
    needle: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column} (row {self.row}): {self.needle}"


def text_columns(schema: str) -> dict[str, list[str]]:
    """Every text, varchar, JSON and array column of every table of `schema`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.table_name, c.column_name
            FROM information_schema.columns c
            JOIN information_schema.tables t
              ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE'
              AND c.data_type = ANY(%s)
            ORDER BY c.table_name, c.ordinal_position
            """,
            [schema, list(TEXT_TYPES)],
        )
        found: dict[str, list[str]] = {}
        for table, column in cursor.fetchall():
            found.setdefault(table, []).append(column)
    return found


def primary_key(schema: str, table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.attname FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = %s::regclass AND i.indisprimary
            """,
            [f'"{schema}"."{table}"'],
        )
        row = cursor.fetchone()
    return f'"{row[0]}"::text' if row else "ctid::text"


def schema_scan(schema: str, needles: dict[str, str]) -> set[Hit]:
    """Where any of `needles` (label -> text) occurs, in every text-like column."""
    hits: set[Hit] = set()
    patterns = {
        label: "%" + value.replace("%", r"\%").replace("_", r"\_") + "%"
        for label, value in needles.items()
        if value
    }
    for table, columns in text_columns(schema).items():
        pk = primary_key(schema, table)
        for column in columns:
            with connection.cursor() as cursor:
                for label, pattern in patterns.items():
                    cursor.execute(
                        f'SELECT {pk} FROM "{schema}"."{table}" '  # noqa: S608 - catalogue names
                        f'WHERE "{column}"::text LIKE %s',
                        [pattern],
                    )
                    hits.update(Hit(table, column, row[0], label) for row in cursor.fetchall())
    return hits


def audit_entries_of(action: str) -> list[AuditLogEntry]:
    return list(AuditLogEntry.objects.filter(action=action).order_by("id"))
