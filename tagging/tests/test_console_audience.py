"""The console of segments, auto-tag rules and bulk tagging jobs, and the customers list's tag
and segment filters. Jobs that reach WeCom run against the sandbox."""

import csv
import io
import json
import re
from html import unescape
from itertools import count

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.timezone import localtime
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from accounts.tests.factories import UserFactory
from channels_qr.models import Channel, LiveCode
from contacts import sync
from contacts.models import Customer, Guide, SyncRun
from contacts.tests.factories import CustomerFactory, GuideFactory, RelationFactory, StoreFactory
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tagging.bulk import bulk_job_from_segment, bulk_job_progress, bulk_job_run
from tagging.models import AutoTagRule, BulkTagJob, BulkTagRow, Segment, Tag, TagGroup
from tagging.rules import rule_save
from tagging.segments import segment_clean, segment_count, segment_save
from tagging.services import tags_add

CORP_ID = "wwaudienceconsole1"
CUSTOMER_LINK = re.compile(r'href="/customers/(\d+)/"')
_ids = count(1)


def login(client, role: str, schema: str = "alpha"):
    with schema_context(schema):
        user = UserFactory(role=role)
        client.force_login(user)
    return user


def in_english(client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def body_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.content.decode())


def make_tags(group_name: str, names: list[str]) -> list[Tag]:
    """Catalogue rows as a pull would leave them (no WeCom call)."""
    group = TagGroup.objects.create(group_id=f"etGRP{next(_ids):06d}", name=group_name)
    return [
        Tag.objects.create(tag_id=f"etAUD{next(_ids):07d}", group=group, name=name)
        for name in names
    ]


def customers_on(body: str) -> set[int]:
    return {int(pk) for pk in CUSTOMER_LINK.findall(body)}


@pytest.fixture
def people(db):
    """Three customers: vip (VIP from amy, 金卡 from bo), gold (金卡 from amy), plain."""
    with schema_context("alpha"):
        vip_tag, gold_tag = make_tags("会员", ["VIP", "金卡"])
        store = StoreFactory(name="南京路店")
        amy = GuideFactory(userid="amy", name="Amy", store=store)
        bo = GuideFactory(userid="bo", name="Bo", store=None)
        vip = CustomerFactory(name="张VIP", gender=Customer.Gender.FEMALE)
        gold = CustomerFactory(name="李金卡", gender=Customer.Gender.MALE)
        plain = CustomerFactory(name="王普通", gender=Customer.Gender.FEMALE)
        RelationFactory(guide=amy, customer=vip, wecom_tag_ids=[vip_tag.tag_id])
        RelationFactory(guide=bo, customer=vip, wecom_tag_ids=[gold_tag.tag_id])
        RelationFactory(guide=amy, customer=gold, wecom_tag_ids=[gold_tag.tag_id])
        RelationFactory(guide=bo, customer=plain)
    return {
        "vip_tag": vip_tag,
        "gold_tag": gold_tag,
        "store": store,
        "amy": amy,
        "bo": bo,
        "vip": vip,
        "gold": gold,
        "plain": plain,
    }


def both_tags(people) -> dict:
    return {
        "op": "and",
        "rules": [
            {
                "field": "tags",
                "op": "all",
                "values": [people["vip_tag"].tag_id, people["gold_tag"].tag_id],
            }
        ],
    }


# --- segments -----------------------------------------------------------------------------


def test_the_preview_counts_what_the_segment_would_hold(people, client_a):
    login(client_a, "operator")
    in_english(client_a)
    definition = {
        "op": "or",
        "rules": [
            both_tags(people),
            {"field": "gender", "op": "in", "values": [Customer.Gender.MALE]},
        ],
    }

    response = client_a.post("/segments/preview/", {"definition": json.dumps(definition)})

    assert response.status_code == 200
    with schema_context("alpha"):
        expected = segment_count(segment_clean(definition))
    assert expected == 2  # vip (tags from two guides) and gold (male)
    assert response.json() == {"count": expected}


@pytest.mark.parametrize(
    ("definition", "error"),
    [
        (
            {"op": "and", "rules": [{"field": "tags", "op": "any", "values": ["etNOPE"]}]},
            "rules[0]: unknown tags: etNOPE",
        ),
        (
            {"op": "and", "rules": [{"field": "guide", "op": "in", "values": []}]},
            "rules[0]: give at least one value",
        ),
        ({"op": "xor", "rules": []}, "a group's op is “and” or “or”"),
    ],
)
def test_the_preview_says_why_a_definition_cannot_be_counted(people, client_a, definition, error):
    login(client_a, "viewer")
    in_english(client_a)

    response = client_a.post("/segments/preview/", {"definition": json.dumps(definition)})

    assert response.status_code == 400
    assert response.json() == {"error": error}


def test_the_preview_refuses_what_is_not_json(db, client_a):
    login(client_a, "operator")
    in_english(client_a)

    response = client_a.post("/segments/preview/", {"definition": "{op: and"})

    assert response.status_code == 400
    assert response.json() == {"error": "The conditions are not valid JSON."}


def test_an_operator_builds_saves_and_reads_a_segment(people, client_a):
    login(client_a, "operator")
    in_english(client_a)
    form = body_of(client_a.get("/segments/new/"))
    assert 'id="segment-builder"' in form
    assert "js/segment_builder.js" in form
    config = json.loads(
        re.search(
            r'<script id="segment-builder-config" type="application/json">(.*?)</script>',
            form,
            re.S,
        ).group(1)
    )
    assert config["previewUrl"] == "/segments/preview/"
    [tag_group] = config["choices"]["tags"]
    assert tag_group["group"] == "会员"
    assert [people["vip_tag"].tag_id, "VIP"] in tag_group["options"]
    definition = both_tags(people)

    response = client_a.post(
        "/segments/new/",
        {"name": "双标签", "description": "两位导购的标签", "definition": json.dumps(definition)},
    )

    with schema_context("alpha"):
        segment = Segment.objects.get(name="双标签")
        assert segment.last_count == 1
        assert segment.definition["rules"][0]["op"] == "all"
        assert AuditLogEntry.objects.filter(action="segments.saved").exists()
    assert response["Location"] == f"/segments/{segment.pk}/"
    page = body_of(client_a.get(response["Location"]))
    assert "Segment “双标签” saved: 1 customers now." in page
    assert "Has all of the tags (across their guides)" in page
    assert '<span class="chip">会员 / VIP</span>' in page
    assert f'href="/customers/?segment={segment.pk}"' in page
    assert f'action="/segments/{segment.pk}/bulk/"' in page


def test_saving_an_invalid_definition_shows_the_error_and_saves_nothing(people, client_a):
    login(client_a, "operator")
    bad = {"op": "and", "rules": [{"field": "added", "op": "between", "from": "2026-02-30"}]}

    page = body_of(client_a.post("/segments/new/", {"name": "坏的", "definition": json.dumps(bad)}))

    assert "rules[0]" in page
    assert "2026-02-30" in page
    with schema_context("alpha"):
        assert not Segment.objects.exists()
    # the builder starts again from what was posted
    assert "2026-02-30" in page.split('id="definition-json"')[1]


def test_a_name_taken_is_refused(people, client_a):
    login(client_a, "operator")
    with schema_context("alpha"):
        segment_save(segment=None, actor=None, name="老客", definition=both_tags(people))

    page = body_of(
        client_a.post(
            "/segments/new/", {"name": "老客", "definition": json.dumps(both_tags(people))}
        )
    )

    with schema_context("alpha"):
        assert Segment.objects.count() == 1
    assert "老客" in page
    assert 'class="errorlist' in page


def test_editing_refreshing_and_deleting_a_segment(people, client_a):
    login(client_a, "admin")
    in_english(client_a)
    with schema_context("alpha"):
        segment = segment_save(segment=None, actor=None, name="VIP", definition=both_tags(people))
    edit = body_of(client_a.get(f"/segments/{segment.pk}/edit/"))
    assert 'value="VIP"' in edit
    everyone = {"op": "and", "rules": []}

    client_a.post(
        f"/segments/{segment.pk}/edit/", {"name": "全部", "definition": json.dumps(everyone)}
    )
    with schema_context("alpha"):
        segment.refresh_from_db()
        assert (segment.name, segment.last_count) == ("全部", 3)
        RelationFactory(customer=CustomerFactory())
    client_a.post(f"/segments/{segment.pk}/refresh/")
    with schema_context("alpha"):
        segment.refresh_from_db()
        assert segment.last_count == 4
    page = body_of(client_a.get(f"/segments/{segment.pk}/"))
    assert "Every customer (no conditions)" in page
    confirm = body_of(client_a.get(f"/segments/{segment.pk}/delete/"))
    assert "Delete the segment “全部”?" in confirm

    response = client_a.post(f"/segments/{segment.pk}/delete/")

    assert response["Location"] == "/segments/"
    with schema_context("alpha"):
        assert not Segment.objects.exists()


@pytest.mark.parametrize("rows", [2, 8])
def test_segments_list_query_count_does_not_grow(db, client_a, django_assert_num_queries, rows):
    login(client_a, "viewer")
    with schema_context("alpha"):
        for index in range(rows):
            Segment.objects.create(name=f"分群{index}", definition={"op": "and", "rules": []})

    # routing and session (5) + the segments
    with django_assert_num_queries(6):
        response = client_a.get("/segments/")

    assert len(re.findall(r'href="/segments/\d+/"', body_of(response))) == rows


def test_a_viewer_reads_segments_but_cannot_change_them(people, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        segment = segment_save(segment=None, actor=None, name="VIP", definition=both_tags(people))

    page = body_of(client_a.get(f"/segments/{segment.pk}/"))

    assert "/edit/" not in page
    assert f"/segments/{segment.pk}/bulk/" not in page
    assert client_a.get("/segments/new/").status_code == 403
    assert client_a.post(f"/segments/{segment.pk}/delete/").status_code == 403
    assert client_a.post(f"/segments/{segment.pk}/bulk/", {"action": "add"}).status_code == 403


def test_another_tenant_sees_none_of_the_segments(people, client_a, client_b):
    with schema_context("alpha"):
        segment = segment_save(segment=None, actor=None, name="VIP", definition=both_tags(people))
    login(client_b, "admin", schema="beta")

    assert client_b.get(f"/segments/{segment.pk}/").status_code == 404
    assert client_b.get(f"/segments/{segment.pk}/edit/").status_code == 404
    assert "VIP" not in body_of(client_b.get("/segments/"))


def test_the_guide_picker_finds_guides_by_name_or_userid(people, client_a):
    login(client_a, "operator")

    found = client_a.get("/segments/guides/", {"q": "am"}).json()["results"]

    assert found == [{"id": people["amy"].pk, "label": "Amy (amy) · 南京路店"}]
    assert client_a.get("/segments/guides/", {"q": ""}).json() == {"results": []}


# --- the customers list's tag and segment filters -----------------------------------------


def test_customers_list_filtered_by_segment_and_by_tags(people, client_a):
    login(client_a, "operator")
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="双标签", definition=both_tags(people)
        )
    vip_tag, gold_tag = people["vip_tag"].tag_id, people["gold_tag"].tag_id

    by_segment = body_of(client_a.get("/customers/", {"segment": segment.pk}))
    by_tags = body_of(client_a.get("/customers/", {"tag": [vip_tag, gold_tag]}))
    by_one_tag = body_of(client_a.get("/customers/", {"tag": vip_tag}))
    both = body_of(client_a.get("/customers/", {"tag": gold_tag, "segment": segment.pk}))

    assert customers_on(by_segment) == {people["vip"].pk}
    assert customers_on(by_tags) == {people["vip"].pk, people["gold"].pk}
    assert customers_on(by_one_tag) == {people["vip"].pk}
    assert customers_on(both) == {people["vip"].pk}
    # the filters are offered, and kept in the form and in the export link
    assert f'<option value="{segment.pk}" selected>双标签</option>' in both
    assert f'<option value="{gold_tag}" selected>金卡</option>' in both
    assert '<optgroup label="会员">' in by_tags
    export = re.search(r'href="(/customers/export\.csv[^"]*)"', both).group(1)
    assert f"segment={segment.pk}" in export
    assert f"tag={gold_tag}" in export


def test_customers_list_keeps_the_filters_on_the_next_page(people, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        for _index in range(55):
            RelationFactory(wecom_tag_ids=[people["gold_tag"].tag_id])

    first = body_of(client_a.get("/customers/", {"tag": people["gold_tag"].tag_id}))
    next_link = re.search(r'<a href="([^"]*)" rel="next">', first).group(1)

    assert f"tag={people['gold_tag'].tag_id}" in next_link
    second = body_of(client_a.get("/customers/" + next_link))
    assert len(customers_on(first) | customers_on(second)) == 57


def test_customers_export_takes_the_segment_filter(people, client_a):
    login(client_a, "operator")
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="双标签", definition=both_tags(people)
        )

    response = client_a.get("/customers/export.csv", {"segment": segment.pk})

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert {row[0] for row in rows[1:]} == {people["vip"].external_userid}
    assert len(rows) == 3  # header and vip's two relations


def test_an_unknown_tag_or_segment_in_the_customers_filters_is_reported(people, client_a):
    login(client_a, "viewer")
    in_english(client_a)

    body = body_of(client_a.get("/customers/", {"tag": "etGONE", "segment": 999999}))

    assert "Filters with errors were ignored." in body
    assert customers_on(body) == {people["vip"].pk, people["gold"].pk, people["plain"].pk}


@pytest.mark.parametrize("rows", [2, 8])
def test_customers_list_with_tag_and_segment_filters_keeps_a_constant_query_count(
    people, client_a, django_assert_num_queries, rows
):
    login(client_a, "viewer")
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="全部", definition={"op": "and", "rules": []}
        )
        for _index in range(rows):
            RelationFactory(wecom_tag_ids=[people["gold_tag"].tag_id])

    # routing and session (5); the tag, store and segment choices; the chosen segment and
    # its definition; customers and their relations
    with django_assert_num_queries(13):
        response = client_a.get(
            "/customers/", {"tag": people["gold_tag"].tag_id, "segment": segment.pk}
        )

    assert len(customers_on(body_of(response))) == rows + 2


# --- rules --------------------------------------------------------------------------------


def test_an_operator_creates_and_edits_a_rule(people, client_a):
    login(client_a, "operator")
    in_english(client_a)
    with schema_context("alpha"):
        poster = Channel.objects.create(name="门店海报")
    form = body_of(client_a.get("/tags/rules/new/"))
    assert "门店海报" in form
    assert 'type="datetime-local"' in form

    response = client_a.post(
        "/tags/rules/new/",
        {
            "name": "夜间海报",
            "is_active": "on",
            "tags": [people["vip_tag"].tag_id],
            "channels": [poster.pk],
            "add_ways": ["1"],
            "guides": "amy",
            "stores": [people["store"].pk],
            "valid_from": "2026-11-01T00:00",
            "valid_until": "2026-11-12T00:00",
            "weekdays": ["6", "7"],
            "hour_from": "22:00",
            "hour_until": "06:00",
        },
    )

    assert response["Location"] == "/tags/rules/"
    with schema_context("alpha"):
        rule = AutoTagRule.objects.get()
        assert rule.tag_ids == [people["vip_tag"].tag_id]
        assert [g.userid for g in rule.guides.all()] == ["amy"]
        assert rule.weekdays == [6, 7]
        assert localtime(rule.valid_from).isoformat() == "2026-11-01T00:00:00+08:00"  # Beijing time
    page = body_of(client_a.get("/tags/rules/"))
    assert "夜间海报" in page
    assert "22:00–06:00" in page
    assert "over midnight" in page
    assert "Scanned a QR code" in page
    edit = body_of(client_a.get(f"/tags/rules/{rule.pk}/edit/"))
    assert 'value="2026-11-01T00:00"' in edit
    assert "amy</textarea>" in edit


def test_a_rule_the_service_refuses_shows_why(people, client_a):
    login(client_a, "operator")
    in_english(client_a)

    page = body_of(
        client_a.post(
            "/tags/rules/new/",
            {"name": "半截", "tags": [people["vip_tag"].tag_id], "hour_from": "22:00"},
        )
    )

    assert "give both daily hours, different from each other, or neither" in page
    with schema_context("alpha"):
        assert not AutoTagRule.objects.exists()


@pytest.mark.parametrize("rows", [2, 6])
def test_rules_list_query_count_does_not_grow(people, client_a, django_assert_num_queries, rows):
    login(client_a, "viewer")
    with schema_context("alpha"):
        channel = Channel.objects.create(name="海报")
        for index in range(rows):
            rule_save(
                rule=None,
                actor=None,
                name=f"规则{index}",
                tag_ids=[people["vip_tag"].tag_id],
                channel_ids=[channel.pk],
                guide_ids=[people["amy"].pk],
                store_ids=[people["store"].pk],
            )

    # routing and session (5) + rules, their channels, guides, stores, the tags named
    with django_assert_num_queries(10):
        response = client_a.get("/tags/rules/")

    assert body_of(response).count('id="rule-') == rows


# --- bulk jobs ----------------------------------------------------------------------------


@pytest.fixture
def corp(db, wecom_sandbox, tenant_a):
    """Two guides in WeCom; 5 customers of amy, the first two also bob's."""
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    control = wecom_sandbox.control
    control.add_department(CORP_ID, "南京路店", id=2)
    control.add_member(CORP_ID, "amy", name="Amy", department=[2], notify=False)
    control.add_member(CORP_ID, "bob", name="Bob", notify=False)
    for n in range(5):
        follows = [
            {
                "userid": "amy",
                "state": "poster" if n < 3 else "",
                "remark_mobiles": [f"1390000{n:04d}"],
            }
        ]
        if n < 2:
            follows.append({"userid": "bob"})
        control.add_customer(CORP_ID, external_userid=f"wmAUD{n:04d}", follows=follows)
    with schema_context("alpha"):
        run = SyncRun.objects.create(trigger="test")
        assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE
        [vip] = tags_add(group_name="会员", names=["VIP"], actor=None)
    return {"control": control, "vip": vip}


def wecom_tags(control, external_userid: str) -> dict[str, list[str]]:
    follows = control.customer(CORP_ID, external_userid)["follows"]
    return {f["userid"]: sorted(t["tag_id"] for t in f["tags"]) for f in follows}


def test_a_csv_upload_starts_a_job_whose_report_lists_the_invalid_rows(corp, client_a):
    login(client_a, "operator")
    in_english(client_a)
    vip = corp["vip"]
    data = "\n".join(
        ["手机号", "13900000003", "13900000003", "hello", "13700000000", "wmAUD0001"]
    ).encode("gbk")
    upload = SimpleUploadedFile("客户名单.csv", data, content_type="text/csv")

    response = client_a.post(
        "/tags/bulk/new/", {"file": upload, "action": "add", "tags": [vip.tag_id]}
    )

    with schema_context("alpha"):
        job = BulkTagJob.objects.get()
        assert (job.source, job.file_name) == ("csv", "客户名单.csv")
    assert response["Location"] == f"/tags/bulk/{job.pk}/"
    running = body_of(client_a.get(response["Location"]))
    assert "js/bulk_job.js" in running
    assert "Cancel the job" in running

    with schema_context("alpha"):
        assert bulk_job_run(bulk_tag_job_id=job.pk) == BulkTagJob.Status.FINISHED

    page = body_of(client_a.get(f"/tags/bulk/{job.pk}/"))
    assert "js/bulk_job.js" not in page
    assert "same as line 2" in page
    assert "neither an external_userid (wm…/wo…) nor a phone number" in page
    assert "no guide noted this phone number" in page
    progress = client_a.get(f"/tags/bulk/{job.pk}/progress/").json()
    assert progress | {"done": 3, "invalid": 3, "pending": 0, "total": 6} == progress
    assert (progress["status"], progress["running"], progress["percent"]) == (
        "finished",
        False,
        100,
    )

    report = client_a.get(f"/tags/bulk/{job.pk}/report.csv")
    assert report.status_code == 200
    assert report["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "Line",
        "Value",
        "External userid",
        "Guide userid",
        "Result",
        "WeCom errcode",
        "Reason",
    ]
    by_line = {(row[0], row[4], row[6]) for row in rows[1:]}
    assert ("3", "Invalid row", "same as line 2") in by_line
    assert (
        "4",
        "Invalid row",
        "neither an external_userid (wm…/wo…) nor a phone number",
    ) in by_line
    assert ("5", "Invalid row", "no guide noted this phone number") in by_line
    assert sorted(row[2:5] for row in rows[1:] if row[0] == "6") == [
        ["wmAUD0001", "amy", "Done"],
        ["wmAUD0001", "bob", "Done"],
    ]
    assert wecom_tags(corp["control"], "wmAUD0003") == {"amy": [vip.tag_id]}
    assert wecom_tags(corp["control"], "wmAUD0001") == {"amy": [vip.tag_id], "bob": [vip.tag_id]}


def test_an_unusable_file_is_refused_on_the_form(corp, client_a):
    login(client_a, "operator")
    in_english(client_a)
    upload = SimpleUploadedFile("empty.csv", b"\n\n", content_type="text/csv")

    page = body_of(
        client_a.post(
            "/tags/bulk/new/", {"file": upload, "action": "add", "tags": [corp["vip"].tag_id]}
        )
    )

    assert "the file has no rows" in page
    with schema_context("alpha"):
        assert not BulkTagJob.objects.exists()


def test_a_segment_is_tagged_in_bulk_after_a_confirmation(corp, client_a):
    login(client_a, "operator")
    in_english(client_a)
    vip = corp["vip"]
    with schema_context("alpha"):
        amy = Guide.objects.get(userid="amy")
        amys = {"op": "and", "rules": [{"field": "guide", "op": "in", "values": [amy.pk]}]}
        segment = segment_save(segment=None, actor=None, name="Amy 的客户", definition=amys)

    confirm = body_of(
        client_a.post(f"/segments/{segment.pk}/bulk/", {"action": "add", "tags": [vip.tag_id]})
    )
    assert "Customers in the segment now: 5." in confirm
    with schema_context("alpha"):
        assert not BulkTagJob.objects.exists()

    response = client_a.post(
        f"/segments/{segment.pk}/bulk/",
        {"action": "add", "tags": [vip.tag_id], "confirmed": "True"},
    )

    with schema_context("alpha"):
        job = BulkTagJob.objects.get()
        assert (job.source, job.segment_id, job.total) == ("segment", segment.pk, 7)
        bulk_job_run(bulk_tag_job_id=job.pk)
        assert bulk_job_progress(job)["done"] == 7
    assert response["Location"] == f"/tags/bulk/{job.pk}/"
    page = body_of(client_a.get(f"/segments/{segment.pk}/"))
    assert f'href="/tags/bulk/{job.pk}/"' in page


def test_a_rule_is_applied_to_existing_customers_after_a_confirmation(corp, client_a):
    login(client_a, "operator")
    in_english(client_a)
    vip = corp["vip"]
    with schema_context("alpha"):
        poster = Channel.objects.create(name="海报")
        LiveCode.objects.create(channel=poster, state="poster")
    client_a.post(
        "/tags/rules/new/",
        {"name": "海报客户", "is_active": "on", "tags": [vip.tag_id], "channels": [poster.pk]},
    )
    with schema_context("alpha"):
        rule = AutoTagRule.objects.get()

    confirm = body_of(client_a.get(f"/tags/rules/{rule.pk}/apply/"))
    assert "Active guide relations matching the rule now: 3." in confirm

    response = client_a.post(f"/tags/rules/{rule.pk}/apply/")

    with schema_context("alpha"):
        job = BulkTagJob.objects.get()
        assert (job.source, job.rule_id, job.total) == ("rule", rule.pk, 3)
        bulk_job_run(bulk_tag_job_id=job.pk)
    assert response["Location"] == f"/tags/bulk/{job.pk}/"
    for n in range(5):
        expected = [vip.tag_id] if n < 3 else []
        assert wecom_tags(corp["control"], f"wmAUD{n:04d}")["amy"] == expected


def test_a_running_job_is_cancelled_from_its_page(people, client_a):
    login(client_a, "operator")
    in_english(client_a)
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="全部", definition={"op": "and", "rules": []}
        )
        job = bulk_job_from_segment(
            segment=segment, action="add", tag_ids=[people["vip_tag"].tag_id], actor=None
        )

    response = client_a.post(f"/tags/bulk/{job.pk}/cancel/")

    assert response["Location"] == f"/tags/bulk/{job.pk}/"
    page = body_of(client_a.get(response["Location"]))
    assert "rows not reached stay pending" in page
    assert "Cancel the job" not in page
    with schema_context("alpha"):
        job.refresh_from_db()
        assert job.status == BulkTagJob.Status.CANCELLED
        assert bulk_job_progress(job)["pending"] == 4


def test_a_viewer_follows_jobs_but_cannot_start_cancel_or_download(people, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="全部", definition={"op": "and", "rules": []}
        )
        job = bulk_job_from_segment(
            segment=segment, action="add", tag_ids=[people["vip_tag"].tag_id], actor=None
        )

    page = body_of(client_a.get(f"/tags/bulk/{job.pk}/"))

    assert "report.csv" not in page
    assert "/cancel/" not in page
    assert client_a.get(f"/tags/bulk/{job.pk}/progress/").status_code == 200
    assert client_a.post(f"/tags/bulk/{job.pk}/cancel/").status_code == 403
    assert client_a.get(f"/tags/bulk/{job.pk}/report.csv").status_code == 403
    assert client_a.get("/tags/bulk/new/").status_code == 403
    assert client_a.get("/tags/rules/new/").status_code == 403


def test_a_viewer_sees_phone_numbers_of_invalid_rows_masked(people, client_a):
    login(client_a, "viewer")
    with schema_context("alpha"):
        job = BulkTagJob.objects.create(action="add", tag_ids=["et1"], source="csv")
        BulkTagRow.objects.create(
            job=job,
            line=2,
            value="13712345678",
            status="invalid",
            error="no guide noted this phone number",
        )

    page = body_of(client_a.get(f"/tags/bulk/{job.pk}/"))

    assert "137****5678" in page
    assert "13712345678" not in page


@pytest.mark.parametrize("jobs", [2, 6])
def test_jobs_list_query_count_does_not_grow(people, client_a, django_assert_num_queries, jobs):
    login(client_a, "viewer")
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="全部", definition={"op": "and", "rules": []}
        )
        for _index in range(jobs):
            bulk_job_from_segment(
                segment=segment, action="add", tag_ids=[people["vip_tag"].tag_id], actor=None
            )

    # routing and session (5) + jobs with their segments, their progress, the tags named
    with django_assert_num_queries(8):
        response = client_a.get("/tags/bulk/")

    body = body_of(response)
    assert len(re.findall(r'href="/tags/bulk/\d+/"', body)) == jobs
    assert body.count("<progress") == jobs


def test_the_navigation_lists_the_new_pages(db, client_a):
    login(client_a, "viewer")
    in_english(client_a)

    body = body_of(client_a.get("/segments/"))

    assert '<a href="/segments/" class="active" aria-current="page">Segments</a>' in body
    assert '<a href="/tags/rules/">Auto-tag rules</a>' in body
    assert '<a href="/tags/bulk/">Bulk tagging</a>' in body


def test_refreshing_a_segment_whose_saved_conditions_no_longer_hold_says_why(people, client_a):
    login(client_a, "admin")
    in_english(client_a)
    with schema_context("alpha"):
        segment = Segment.objects.create(name="旧", definition={"op": "xor", "rules": []})

    answer = client_a.post(f"/segments/{segment.pk}/refresh/", follow=True)

    assert answer.status_code == 200
    assert "Not counted:" in unescape(answer.content.decode())
    with schema_context("alpha"):
        segment.refresh_from_db()
        assert segment.last_counted_at is None
