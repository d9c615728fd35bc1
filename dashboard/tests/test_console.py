"""The console home: a new tenant's empty states, the numbers of a tenant with history,
filters, what is in progress elsewhere (handovers, group sends, lifecycle), and a fixed
number of queries whatever the data."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from broadcast.models import Broadcast
from channels_qr.models import Channel
from contacts.models import Guide, Store
from dashboard.aggregates import dashboard_backfill
from dashboard.tests.helpers import at, generate, relate
from handover.models import Handover, TransferItem
from handover.tests.test_console import body_of, in_english, login, text_of
from lifecycle.stages import customer_stages_recompute


def kpis(body: str) -> dict[str, str]:
    return dict(re.findall(r'data-kpi="(\w+)"[^>]*>([^<]*)<', body))


def charts(body: str) -> dict:
    found = re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', body)
    assert found is not None
    return json.loads(found.group(1))


def test_a_new_tenant_sees_empty_states(db, tenant_a, client_a):
    login(client_a)
    in_english(client_a)

    body = body_of(client_a.get("/"))

    text = text_of(body)
    assert "The numbers have not been computed yet" in text
    assert kpis(body) == {
        "adds": "0",
        "deleted_by_customer": "0",
        "deleted_by_guide": "0",
        "net": "0",
        "transfers": "0 / 0",
    }
    for empty in (
        "No channel brought customers in these days.",
        "No adds in these days.",
        "No customer lost in these days.",
        "No handover in progress.",
        "No group send this week.",
    ):
        assert empty in text
    data = charts(body)
    assert data["growth"]["has_data"] is False
    assert len(data["growth"]["days"]) == 30
    assert data["funnel"] == []
    assert data["stages"]["has_data"] is False


def test_the_page_is_chinese_first(db, tenant_a, client_a):
    login(client_a, "viewer")

    body = body_of(client_a.get("/"))

    assert "概览" in body
    assert "欢迎，" in body


@pytest.fixture
def history(db, tenant_a):
    """Two stores' guides with adds, deletions and a channel over the last days."""
    today = timezone.localdate()
    with schema_context("alpha"):
        north = Store.objects.create(department_id=1, name="北京路店")
        south = Store.objects.create(department_id=2, name="南京路店")
        amy = Guide.objects.create(userid="amy", name="Amy", store=north)
        ben = Guide.objects.create(userid="ben", name="Ben", store=south)
        poster = Channel.objects.create(name="门店海报")
        for days_ago, guide, channel in [
            (1, amy, poster),
            (1, amy, poster),
            (2, amy, None),
            (3, ben, poster),
            (40, ben, None),  # outside the default 30 days
        ]:
            relate(guide, added=at(today - timedelta(days=days_ago)), channel=channel)
        relate(
            ben,
            added=at(today - timedelta(days=60)),
            status="deleted_by_customer",
            ended=at(today - timedelta(days=2)),
        )
        relate(
            amy,
            added=at(today - timedelta(days=60)),
            status="deleted_by_guide",
            ended=at(today - timedelta(days=1)),
        )
        dashboard_backfill()
        customer_stages_recompute()
    return {"north": north, "south": south, "today": today}


def test_the_numbers_of_the_last_30_days(history, client_a):
    login(client_a)
    in_english(client_a)

    body = body_of(client_a.get("/"))

    assert kpis(body) == {
        "adds": "4",
        "deleted_by_customer": "1",
        "deleted_by_guide": "1",
        "net": "2",
        "transfers": "0 / 0",
    }
    text = text_of(body)
    assert "Numbers last refreshed at" in text
    assert "门店海报 3 0 3" in text  # the channel: adds, lost, net
    data = charts(body)
    growth = {s["key"]: s["data"] for s in data["growth"]["series"]}
    assert growth["adds"][-4:] == [1, 1, 2, 0]  # 3, 2 and 1 days ago, today
    assert growth["net"][-3:] == [0, 1, 0]
    assert data["channels"]["names"] == ["门店海报"]
    # the lifecycle: 7 customers, 5 still friends (new or dormant), 2 lost
    funnel = {s["key"]: s["value"] for s in data["funnel"]}
    assert funnel == {"new": 4, "engaged": 0, "first_order": 0, "repeat": 0}
    assert data["stages"]["has_data"] is True
    guides_by_adds = re.search(r'id="guides-by-adds".*?</table>', body, re.S)
    assert guides_by_adds is not None
    assert re.findall(r'data-guide="(\w+)"', guides_by_adds.group(0)) == ["amy", "ben"]


def test_the_store_filter_and_the_date_range(history, client_a):
    login(client_a)
    in_english(client_a)
    today = history["today"]

    south = body_of(client_a.get(f"/?store={history['south'].pk}"))
    assert kpis(south)["adds"] == "1"
    assert kpis(south)["deleted_by_customer"] == "1"
    assert "南京路店" in text_of(south)

    start = (today - timedelta(days=45)).isoformat()
    wide = body_of(client_a.get(f"/?from={start}&to={today.isoformat()}"))
    assert kpis(wide)["adds"] == "5"
    assert len(charts(wide)["growth"]["days"]) == 46


def test_bad_filters_are_reported_and_the_defaults_used(history, client_a):
    login(client_a)
    in_english(client_a)
    today = history["today"]

    too_long = body_of(client_a.get(f"/?from={today - timedelta(days=400)}&to={today}"))
    assert "At most 366 days at a time." in text_of(too_long)
    assert len(charts(too_long)["growth"]["days"]) == 30

    backwards = body_of(client_a.get(f"/?from={today}&to={today - timedelta(days=3)}"))
    assert "The end date is before the start date." in text_of(backwards)

    nonsense = body_of(client_a.get("/?from=yesterday&store=abc"))
    assert "Filters with errors were ignored." in text_of(nonsense)
    assert kpis(nonsense)["adds"] == "4"


def test_handovers_in_progress_and_this_weeks_group_sends(history, client_a):
    login(client_a)
    in_english(client_a)
    with schema_context("alpha"):
        amy = Guide.objects.get(userid="amy")
        running = Handover.objects.create(
            kind=Handover.Kind.RESIGNED, status=Handover.Status.WAITING, trigger="operator"
        )
        running.from_guides.add(amy)
        for n, status in enumerate(["accepted", "accepted", "waiting"]):
            TransferItem.objects.create(
                handover=running, external_id=f"wm{n}", from_guide=amy, status=status
            )
        Handover.objects.create(kind="resigned", status=Handover.Status.DONE, trigger="operator")
        Broadcast.objects.create(
            name="双十一预热",
            audience="segment",
            status=Broadcast.Status.WAITING,
            counts={"waiting": 30, "sent": 70, "dnd": 5},
        )
        Broadcast.objects.create(
            name="上月的群发",
            audience="segment",
            status=Broadcast.Status.DONE,
            created_at=timezone.now() - timedelta(days=40),
        )

    text = text_of(body_of(client_a.get("/")))

    assert f"#{running.pk} Resigned transfer" in text
    assert "2 / 3" in text
    assert "双十一预热 Waiting for guides to send 100 70" in text
    assert "上月的群发" not in text
    assert "1 group send, 100 customers, 70 sent so far." in text


@pytest.mark.parametrize("relations", [40, 400])
def test_the_page_makes_the_same_queries_whatever_the_data(
    db, tenant_a, client_a, django_assert_num_queries, relations
):
    login(client_a, "viewer")
    with schema_context("alpha"):
        generate(relations, relations=relations, days=60, today=timezone.localdate())
        dashboard_backfill()
        customer_stages_recompute()
        for n in range(relations // 40):
            Handover.objects.create(kind="resigned", status="waiting", trigger="operator")
            Broadcast.objects.create(name=f"群发{n}", audience="segment", status="waiting")

    # routing (search_path, domain, search_path), session, user; then stores, the growth
    # per day, top channels + their names, the guide rankings + the guides' names, the
    # refresh state, the stage counts, handovers + their guides + their item counts, and
    # this week's group sends
    with django_assert_num_queries(17):
        response = client_a.get("/")

    assert response.status_code == 200
    assert int(kpis(body_of(response))["adds"]) > 0
