"""Events emitted by the domain code: stored with one delivery per subscribed enabled
endpoint, only then; nothing at all (one cache read) for a tenant without webhooks; bulk
places in a fixed number of queries; never for a change that rolled back."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from broadcast.models import Broadcast
from broadcast.services import broadcast_cancel
from channels_qr.models import Channel, LiveCode
from contacts import incremental
from contacts.models import Customer, Guide, Relation
from contacts.tests.factories import CustomerFactory, GuideFactory, RelationFactory
from contacts.upserts import follow_row, relations_upsert
from handover.models import Handover, TransferItem
from handover.transfer import handover_finish_if_final, relations_move
from tagging.models import Tag, TagGroup
from tagging.services import relation_tags_save
from webhooks.emit import emit_customers_added, subscribed_types
from webhooks.models import Delivery, Endpoint, Event
from webhooks.services import endpoint_disable
from webhooks.tests.helpers import make_endpoint

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def alpha(db, tenant_a):
    with schema_context("alpha"):
        yield


def add_relation(guide, external_userid: str, **follow) -> Relation:
    """The contact book records a new relation as a sync or a callback does."""
    customer = Customer.objects.create(external_userid=external_userid, name="孙女士")
    row = follow_row(
        customer.external_userid,
        {
            "userid": guide.userid,
            "add_way": 1,
            "createtime": int(timezone.now().timestamp()),
            **follow,
        },
    )
    relations_upsert([row])
    return Relation.objects.get(guide=guide, customer=customer)


def test_a_tenant_without_webhooks_stores_nothing_and_asks_the_database_once(
    alpha, django_assert_num_queries
):
    relation = RelationFactory()

    with django_assert_num_queries(1):  # which types are subscribed: then cached
        assert emit_customers_added(relation_ids=[relation.pk]) == 0
    with django_assert_num_queries(0):
        assert emit_customers_added(relation_ids=[relation.pk]) == 0

    assert not Event.objects.exists()


def test_an_added_customer_is_one_event_with_a_delivery_per_subscribed_enabled_endpoint(
    alpha,
):
    both, _ = make_endpoint(HOOK, ["customer.added", "customer.deleted"])
    only_added, _ = make_endpoint(HOOK + "2", ["customer.added"])
    tags_only, _ = make_endpoint(HOOK + "3", ["customer.tagged"])
    stopped, _ = make_endpoint(HOOK + "4", ["customer.added"])
    endpoint_disable(endpoint=stopped)
    channel = Channel.objects.create(name="徐汇店海报")
    LiveCode.objects.create(channel=channel, state="poster-7", config_id="cfg1")
    guide = GuideFactory(userid="amy", name="Amy")

    relation = add_relation(guide, "wmADDED01", state="poster-7", add_way=1)

    [event] = Event.objects.all()
    assert event.type == "customer.added"
    assert set(event.deliveries.values_list("endpoint_id", flat=True)) == {
        both.pk,
        only_added.pk,
    }
    assert set(event.deliveries.values_list("status", flat=True)) == {"pending"}
    data = event.data
    assert data["customer"] == {
        "id": relation.customer_id,
        "external_userid": "wmADDED01",
        "name": "孙女士",
        "unionid": "",
    }
    assert data["guide"] == {"id": guide.pk, "userid": "amy", "name": "Amy"}
    assert data["state"] == "poster-7"
    assert data["add_way"] == 1
    # attribution has not run yet: the channel comes from the live code's state
    assert data["channel"] == {"id": channel.pk, "name": "徐汇店海报"}
    assert event.occurred_at == relation.added_at
    assert tags_only.pk not in event.deliveries.values_list("endpoint_id", flat=True)

    # the same add reported again (a sync after the callback) is not a new event
    again = {"userid": "amy", "add_way": 1, "createtime": int(relation.added_at.timestamp())}
    relations_upsert([follow_row("wmADDED01", again)])
    assert Event.objects.count() == 1


def test_nothing_is_emitted_for_a_change_that_rolled_back(alpha):
    make_endpoint(HOOK, ["customer.added"])
    guide = GuideFactory()

    def failing_handler():
        with transaction.atomic():
            add_relation(guide, "wmROLLBACK")
            raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError):
        failing_handler()

    assert not Event.objects.exists()
    assert not Delivery.objects.exists()


def test_a_new_endpoint_receives_events_at_once_although_the_answer_was_cached(alpha):
    guide = GuideFactory()
    add_relation(guide, "wmBEFORE")  # caches "nobody subscribes"
    assert subscribed_types() == frozenset()

    make_endpoint(HOOK, ["customer.added"])
    add_relation(guide, "wmAFTER")

    assert list(Event.objects.values_list("data__customer__external_userid", flat=True)) == [
        "wmAFTER"
    ]


def test_deletions_say_who_deleted(alpha):
    make_endpoint(HOOK, ["customer.deleted"])
    by_customer = RelationFactory(guide=GuideFactory(userid="amy"))
    by_guide = RelationFactory(guide=by_customer.guide)
    at = timezone.now()

    incremental.relation_ended(
        userid="amy",
        external_userid=by_customer.customer.external_userid,
        status=Relation.Status.DELETED_BY_CUSTOMER,
        at=at,
        event_key="cb:1",
    )
    incremental.relation_ended(
        userid="amy",
        external_userid=by_guide.customer.external_userid,
        status=Relation.Status.DELETED_BY_GUIDE,
        at=at,
        event_key="cb:2",
    )
    # the same deletion reported twice changes nothing, so is no second event
    incremental.relation_ended(
        userid="amy",
        external_userid=by_guide.customer.external_userid,
        status=Relation.Status.DELETED_BY_GUIDE,
        at=at + timedelta(seconds=5),
        event_key="cb:3",
    )

    events = {e.data["customer"]["id"]: e.data for e in Event.objects.all()}
    assert events[by_customer.customer_id]["by"] == "customer"
    assert events[by_guide.customer_id]["by"] == "guide"
    assert events[by_guide.customer_id]["guide"]["userid"] == "amy"
    assert len(events) == 2 == Event.objects.count()


def test_tag_changes_carry_the_tags_with_their_names(alpha):
    make_endpoint(HOOK, ["customer.tagged"])
    group = TagGroup.objects.create(group_id="etG1", name="等级")
    Tag.objects.create(tag_id="etVIP", group=group, name="VIP")
    Tag.objects.create(tag_id="etNEW", group=group, name="新客")
    relation = RelationFactory(wecom_tag_ids=["etNEW"])

    with transaction.atomic():
        relation_tags_save(
            relation_id=relation.pk, add=["etVIP"], remove=["etNEW"], actor_label="amy"
        )

    [event] = Event.objects.filter(type="customer.tagged")
    assert event.data["added"] == [{"id": "etVIP", "name": "VIP", "group": "等级"}]
    assert event.data["removed"] == [{"id": "etNEW", "name": "新客", "group": "等级"}]
    assert event.data["tag_ids"] == ["etVIP"]
    assert event.data["source"] == "platform"


def _accepted_items(count: int, giver, taker) -> list[TransferItem]:
    handover = Handover.objects.create(
        kind=Handover.Kind.RESIGNED, trigger=Handover.Trigger.OPERATOR
    )
    customers = CustomerFactory.create_batch(count)
    Relation.objects.bulk_create(
        [Relation(guide=giver, customer=c, added_at=timezone.now()) for c in customers]
    )
    return TransferItem.objects.bulk_create(
        [
            TransferItem(
                handover=handover,
                customer=c,
                external_id=c.external_userid,
                from_guide=giver,
                to_guide=taker,
                status=TransferItem.Status.ACCEPTED,
                takeover_time=timezone.now(),
            )
            for c in customers
        ]
    )


def test_a_handover_moving_many_customers_emits_in_a_fixed_number_of_queries(
    alpha, django_assert_max_num_queries
):
    make_endpoint(HOOK, ["customer.transferred"])
    make_endpoint(HOOK + "2", ["customer.transferred"])
    giver, taker = GuideFactory(userid="gone"), GuideFactory(userid="taker")
    few, many = _accepted_items(2, giver, taker), _accepted_items(300, giver, taker)
    subscribed_types()

    with transaction.atomic(), django_assert_max_num_queries(12) as few_queries:
        relations_move(items=few)
    with transaction.atomic(), django_assert_max_num_queries(12) as many_queries:
        relations_move(items=many)

    assert len(many_queries.captured_queries) == len(few_queries.captured_queries)
    assert Event.objects.filter(type="customer.transferred").count() == 302
    assert Delivery.objects.count() == 604
    event = Event.objects.get(data__customer__external_userid=many[0].external_id)
    assert event.data["from_guide"]["userid"] == "gone"
    assert event.data["to_guide"]["userid"] == "taker"
    assert event.data["handover"] == {"id": many[0].handover_id, "kind": "resigned"}

    # applying the same results again is not a second event
    with transaction.atomic():
        relations_move(items=many)
    assert Event.objects.filter(type="customer.transferred").count() == 302


def test_a_handover_and_a_group_send_reaching_their_end_are_events_once(alpha):
    make_endpoint(HOOK, ["handover.finished", "broadcast.finished"])
    handover = Handover.objects.create(
        kind=Handover.Kind.RESIGNED,
        trigger=Handover.Trigger.OPERATOR,
        status=Handover.Status.WAITING,
        started_at=timezone.now(),
    )
    handover.from_guides.set([Guide.objects.create(userid="gone", name="gone")])
    broadcast = Broadcast.objects.create(name="会员日", audience=Broadcast.Audience.CUSTOMERS)

    assert handover_finish_if_final(handover_id=handover.pk) == Handover.Status.DONE
    assert handover_finish_if_final(handover_id=handover.pk) == Handover.Status.DONE
    broadcast_cancel(broadcast=broadcast)

    finished = {e.type: e.data for e in Event.objects.all()}
    assert Event.objects.count() == 2
    assert finished["handover.finished"]["status"] == "done"
    assert finished["handover.finished"]["from_guides"][0]["userid"] == "gone"
    assert finished["handover.finished"]["counts"]["total"] == 0
    assert finished["broadcast.finished"]["status"] == "cancelled"
    assert finished["broadcast.finished"]["name"] == "会员日"


def test_events_stay_in_their_tenant(db, tenant_a, tenant_b):
    with schema_context("beta"):
        make_endpoint(HOOK, ["customer.added"])
    with schema_context("alpha"):
        add_relation(GuideFactory(), "wmALPHAONLY")
        assert not Event.objects.exists()
    with schema_context("beta"):
        assert not Event.objects.exists()
        assert Endpoint.objects.count() == 1


def test_nothing_is_emitted_from_the_public_schema(db):
    assert connection.schema_name == "public"
    assert subscribed_types() == frozenset()
