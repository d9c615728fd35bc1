"""The segments, auto-tag rules and bulk tagging jobs API, and the customers list's tag and
segment filters, as an integrator's HTTP client sees them."""

from itertools import count

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from accounts.models import APIKey, AuditLogEntry
from accounts.services import api_key_create
from accounts.tests.factories import bearer
from channels_qr.models import Channel, LiveCode
from contacts import sync
from contacts.models import Customer, SyncRun
from contacts.tests.factories import CustomerFactory, GuideFactory, RelationFactory
from scrm.wecom.tests.sandbox_setup import connect_to_sandbox
from tagging.bulk import bulk_job_from_segment, bulk_job_run
from tagging.models import AutoTagRule, BulkTagJob, Segment, Tag, TagGroup
from tagging.segments import segment_clean, segment_count, segment_save
from tagging.services import tags_add

CORP_ID = "wwaudienceapi0001"
_ids = count(1)


def key(scope: str = APIKey.Scope.READ, schema: str = "alpha") -> dict[str, str]:
    with schema_context(schema):
        _, raw_key = api_key_create(name="ERP", scope=scope, created_by=None)
    return {**bearer(raw_key), "HTTP_COOKIE": "django_language=en"}


@pytest.fixture
def read_key(db) -> dict[str, str]:
    return key()


@pytest.fixture
def write_key(db) -> dict[str, str]:
    return key(APIKey.Scope.READ_WRITE)


def make_tags(names: list[str]) -> list[Tag]:
    group = TagGroup.objects.create(group_id=f"etGRPAPI{next(_ids):05d}", name="会员")
    return [
        Tag.objects.create(tag_id=f"etAPI{next(_ids):07d}", group=group, name=name)
        for name in names
    ]


@pytest.fixture
def people(db):
    """vip: VIP from amy and 金卡 from bo; gold: 金卡 from amy; plain: no tag."""
    with schema_context("alpha"):
        vip_tag, gold_tag = make_tags(["VIP", "金卡"])
        amy, bo = GuideFactory(userid="amy"), GuideFactory(userid="bo")
        vip = CustomerFactory(name="张VIP")
        gold = CustomerFactory(name="李金卡", gender=Customer.Gender.MALE)
        plain = CustomerFactory(name="王普通")
        RelationFactory(guide=amy, customer=vip, wecom_tag_ids=[vip_tag.tag_id])
        RelationFactory(guide=bo, customer=vip, wecom_tag_ids=[gold_tag.tag_id])
        RelationFactory(guide=amy, customer=gold, wecom_tag_ids=[gold_tag.tag_id])
        RelationFactory(guide=bo, customer=plain)
    return {
        "vip_tag": vip_tag.tag_id,
        "gold_tag": gold_tag.tag_id,
        "amy": amy,
        "vip": vip,
        "gold": gold,
        "plain": plain,
    }


def both_tags(people) -> dict:
    return {
        "op": "and",
        "rules": [
            {"field": "tags", "op": "all", "values": [people["vip_tag"], people["gold_tag"]]}
        ],
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- segments ------------------------------------------------------------------------------


def test_segment_create_read_update_delete(people, client_a, write_key):
    response = client_a.post(
        "/api/v1/segments/",
        {"name": "双标签", "description": "两位导购", "definition": both_tags(people)},
        content_type="application/json",
        **write_key,
    )

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["name"] == "双标签"
    assert created["last_count"] == 1
    assert created["definition"]["rules"][0]["values"] == sorted(
        [people["vip_tag"], people["gold_tag"]]
    )
    url = f"/api/v1/segments/{created['id']}/"
    assert client_a.get(url, **write_key).json() == created

    male = {"op": "and", "rules": [{"field": "gender", "op": "in", "values": [1]}]}
    patched = client_a.patch(
        url, {"definition": male}, content_type="application/json", **write_key
    ).json()
    assert (patched["name"], patched["description"], patched["last_count"]) == (
        "双标签",
        "两位导购",
        1,
    )
    assert patched["definition"] == male
    renamed = client_a.patch(url, {"name": "男客"}, content_type="application/json", **write_key)
    assert renamed.json()["name"] == "男客"

    assert client_a.delete(url, **write_key).status_code == 204
    assert client_a.get(url, **write_key).status_code == 404
    with schema_context("alpha"):
        actions = set(AuditLogEntry.objects.values_list("action", flat=True))
        assert {"segments.saved", "segments.deleted"} <= actions


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"name": "x", "definition": {"op": "and", "rules": [{"field": "x", "op": "in"}]}},
            {"definition": ["rules[0]: unknown field “x”"]},
        ),
        (
            {
                "name": "x",
                "definition": {
                    "op": "and",
                    "rules": [{"field": "tags", "op": "any", "values": ["etGONE"]}],
                },
            },
            {"definition": ["rules[0]: unknown tags: etGONE"]},
        ),
        (
            {"name": "   ", "definition": {"op": "and", "rules": []}},
            {"name": ["This field may not be blank."]},
        ),
        ({"name": "x"}, {"definition": ["This field is required."]}),
    ],
)
def test_a_bad_segment_answers_400_naming_the_field(people, client_a, write_key, body, errors):
    response = client_a.post(
        "/api/v1/segments/", body, content_type="application/json", **write_key
    )

    assert response.status_code == 400
    assert response.json() == errors
    with schema_context("alpha"):
        assert not Segment.objects.exists()


def test_a_segment_name_taken_answers_400(people, client_a, write_key):
    with schema_context("alpha"):
        segment_save(segment=None, actor=None, name="老客", definition=both_tags(people))

    response = client_a.post(
        "/api/v1/segments/",
        {"name": "老客", "definition": both_tags(people)},
        content_type="application/json",
        **write_key,
    )

    assert response.status_code == 400
    assert response.json() == {"name": ["a segment named “老客” exists"]}


def test_preview_counts_without_saving_and_any_key_may_call_it(people, client_a, read_key):
    definition = {
        "op": "or",
        "rules": [both_tags(people), {"field": "gender", "op": "in", "values": [1]}],
    }

    response = client_a.post(
        "/api/v1/segments/preview/",
        {"definition": definition},
        content_type="application/json",
        **read_key,
    )

    assert response.status_code == 200, response.content
    with schema_context("alpha"):
        assert response.json() == {"count": segment_count(segment_clean(definition))}
        assert not Segment.objects.exists()
    bad = client_a.post(
        "/api/v1/segments/preview/",
        {"definition": {"op": "and", "rules": [{"field": "added", "op": "between"}]}},
        content_type="application/json",
        **read_key,
    )
    assert bad.status_code == 400
    assert bad.json() == {"definition": ["rules[0]: give a start date, an end date or both"]}


def test_a_read_only_key_cannot_change_segments(people, client_a, read_key):
    response = client_a.post(
        "/api/v1/segments/",
        {"name": "x", "definition": both_tags(people)},
        content_type="application/json",
        **read_key,
    )

    assert response.status_code == 403


def test_segment_customers_are_keyset_paginated(people, client_a, read_key):
    with schema_context("alpha"):
        segment = segment_save(
            segment=None,
            actor=None,
            name="金卡",
            definition={
                "op": "and",
                "rules": [{"field": "tags", "op": "any", "values": [people["gold_tag"]]}],
            },
        )

    first = client_a.get(
        f"/api/v1/segments/{segment.pk}/customers/", {"page_size": 1}, **read_key
    ).json()
    second = client_a.get(first["next"], **read_key).json()

    assert {row["id"] for row in first["results"] + second["results"]} == {
        people["vip"].pk,
        people["gold"].pk,
    }
    assert second["next"] is None
    assert {len(row["relations"]) for row in first["results"] + second["results"]} <= {1, 2}


@pytest.mark.parametrize("rows", [2, 8])
def test_segment_list_query_count_does_not_grow(
    db, client_a, read_key, django_assert_num_queries, rows
):
    with schema_context("alpha"):
        for index in range(rows):
            Segment.objects.create(name=f"分群{index}", definition={"op": "and", "rules": []})

    # routing (3), the key, the page
    with django_assert_num_queries(5):
        response = client_a.get("/api/v1/segments/", **read_key)

    assert len(ids(response)) == rows


def test_another_brands_key_finds_none_of_the_segments(people, client_a, client_b):
    with schema_context("alpha"):
        segment = segment_save(segment=None, actor=None, name="VIP", definition=both_tags(people))
    beta_key = key(APIKey.Scope.READ_WRITE, schema="beta")

    assert client_b.get(f"/api/v1/segments/{segment.pk}/", **beta_key).status_code == 404
    assert client_b.get(f"/api/v1/segments/{segment.pk}/customers/", **beta_key).status_code == 404
    assert client_b.delete(f"/api/v1/segments/{segment.pk}/", **beta_key).status_code == 404
    assert ids(client_b.get("/api/v1/segments/", **beta_key)) == []
    refused = client_b.get("/api/v1/customers/", {"segment": segment.pk}, **beta_key)
    assert refused.status_code == 400
    assert refused.json() == {"segment": ["No such segment."]}
    with schema_context("alpha"):
        assert Segment.objects.filter(pk=segment.pk).exists()


# --- the customers list's tag and segment filters -------------------------------------------


def test_customers_filtered_by_tags_and_by_segment(people, client_a, read_key):
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="双标签", definition=both_tags(people)
        )

    def customer_ids(query: str) -> set[int]:
        return set(ids(client_a.get(f"/api/v1/customers/?{query}", **read_key)))

    assert customer_ids(f"tag={people['vip_tag']}") == {people["vip"].pk}
    assert customer_ids(f"tag={people['vip_tag']}&tag={people['gold_tag']}") == {
        people["vip"].pk,
        people["gold"].pk,
    }
    assert customer_ids(f"segment={segment.pk}") == {people["vip"].pk}
    assert customer_ids(f"segment={segment.pk}&tag={people['gold_tag']}") == {people["vip"].pk}
    assert customer_ids("tag=etNOBODY") == set()
    bad = client_a.get("/api/v1/customers/", {"segment": "x"}, **read_key)
    assert bad.status_code == 400
    assert "segment" in bad.json()


# --- auto-tag rules --------------------------------------------------------------------------


def test_rule_create_read_update_delete(people, client_a, write_key):
    with schema_context("alpha"):
        poster = Channel.objects.create(name="海报")

    response = client_a.post(
        "/api/v1/tag-rules/",
        {
            "name": "夜间海报",
            "tag_ids": [people["vip_tag"]],
            "channel_ids": [poster.pk],
            "add_ways": [1],
            "guide_ids": [people["amy"].pk],
            "weekdays": [6, 7],
            "hour_from": "22:00",
            "hour_until": "06:00",
            "valid_from": "2026-11-01T00:00:00+08:00",
        },
        content_type="application/json",
        **write_key,
    )

    assert response.status_code == 201, response.content
    rule = response.json()
    assert (
        rule
        | {
            "name": "夜间海报",
            "is_active": True,
            "tag_ids": [people["vip_tag"]],
            "channel_ids": [poster.pk],
            "add_ways": [1],
            "guide_ids": [people["amy"].pk],
            "store_ids": [],
            "weekdays": [6, 7],
            "hour_from": "22:00:00",
            "hour_until": "06:00:00",
            "valid_from": "2026-11-01T00:00:00+08:00",
            "valid_until": None,
        }
        == rule
    )
    url = f"/api/v1/tag-rules/{rule['id']}/"

    patched = client_a.patch(
        url, {"is_active": False, "weekdays": []}, content_type="application/json", **write_key
    ).json()

    assert (patched["is_active"], patched["weekdays"]) == (False, [])
    assert patched["channel_ids"] == [poster.pk]  # fields not sent stay
    assert patched["hour_from"] == "22:00:00"
    assert ids(client_a.get("/api/v1/tag-rules/", **write_key)) == [rule["id"]]
    assert client_a.delete(url, **write_key).status_code == 204
    with schema_context("alpha"):
        assert not AutoTagRule.objects.exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "x", "tag_ids": ["etGONE"]}, {"non_field_errors": ["unknown tags: etGONE"]}),
        (
            {"name": "x", "hour_from": "22:00"},
            {"non_field_errors": ["give both daily hours, different from each other, or neither"]},
        ),
        (
            {"name": "x", "weekdays": [8]},
            {"weekdays": {"0": ["Ensure this value is less than or equal to 7."]}},
        ),
        ({"name": "x", "tag_ids": []}, {"tag_ids": ["This list may not be empty."]}),
    ],
)
def test_a_bad_rule_answers_400_with_the_reason(people, client_a, write_key, body, errors):
    body = {"tag_ids": [people["vip_tag"]], **body}

    response = client_a.post(
        "/api/v1/tag-rules/", body, content_type="application/json", **write_key
    )

    assert response.status_code == 400
    assert response.json() == errors


@pytest.mark.parametrize("rows", [2, 6])
def test_rule_list_query_count_does_not_grow(
    people, client_a, read_key, django_assert_num_queries, rows
):
    with schema_context("alpha"):
        channel = Channel.objects.create(name="海报")
        for index in range(rows):
            rule = AutoTagRule.objects.create(name=f"规则{index}", tag_ids=[people["vip_tag"]])
            rule.channels.set([channel])
            rule.guides.set([people["amy"]])

    # routing (3), the key, the page, its channels, guides and stores
    with django_assert_num_queries(8):
        response = client_a.get("/api/v1/tag-rules/", **read_key)

    assert len(ids(response)) == rows


# --- bulk tagging jobs ----------------------------------------------------------------------


@pytest.fixture
def corp(db, wecom_sandbox, tenant_a):
    """Guides amy and bob; 4 customers of amy (from the poster: the first 2), the first
    also bob's; phones noted by amy."""
    connect_to_sandbox(wecom_sandbox, tenant_a, CORP_ID)
    control = wecom_sandbox.control
    for userid in ("amy", "bob"):
        control.add_member(CORP_ID, userid, name=userid.title(), notify=False)
    for n in range(4):
        follows = [
            {
                "userid": "amy",
                "state": "poster" if n < 2 else "",
                "remark_mobiles": [f"1380000{n:04d}"],
            }
        ]
        if n == 0:
            follows.append({"userid": "bob"})
        control.add_customer(CORP_ID, external_userid=f"wmAPI{n:04d}", follows=follows)
    with schema_context("alpha"):
        run = SyncRun.objects.create(trigger="test")
        assert sync.sync_run(sync_run_id=run.pk) == SyncRun.Status.DONE
        [vip] = tags_add(group_name="会员", names=["VIP"], actor=None)
    return {"control": control, "vip": vip.tag_id}


def wecom_tags(control, external_userid: str) -> dict[str, list[str]]:
    follows = control.customer(CORP_ID, external_userid)["follows"]
    return {f["userid"]: sorted(t["tag_id"] for t in f["tags"]) for f in follows}


def test_a_job_from_a_segment_runs_and_reports_its_progress(corp, client_a, write_key):
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="全部", definition={"op": "and", "rules": []}
        )

    response = client_a.post(
        "/api/v1/bulk-tag-jobs/",
        {"segment": segment.pk, "action": "add", "tag_ids": [corp["vip"]]},
        content_type="application/json",
        **write_key,
    )

    assert response.status_code == 202, response.content
    job = response.json()
    assert (
        job
        | {
            "action": "add",
            "source": "segment",
            "segment": segment.pk,
            "rule": None,
            "status": "running",
            "total": 5,
        }
        == job
    )
    assert job["progress"] | {"pending": 5, "done": 0, "total": 5} == job["progress"]

    with schema_context("alpha"):
        bulk_job_run(bulk_tag_job_id=job["id"])

    done = client_a.get(f"/api/v1/bulk-tag-jobs/{job['id']}/", **write_key).json()
    assert done["status"] == "finished"
    assert done["progress"] | {"pending": 0, "done": 5, "total": 5} == done["progress"]
    assert done["finished_at"] is not None
    assert wecom_tags(corp["control"], "wmAPI0000") == {
        "amy": [corp["vip"]],
        "bob": [corp["vip"]],
    }


def test_a_job_from_a_csv_upload_lists_invalid_rows_with_reasons(corp, client_a, write_key):
    data = "phone\n13800000002\nhello\n13800000002\nwmAPI0000\n".encode("gbk")

    response = client_a.post(
        "/api/v1/bulk-tag-jobs/",
        {
            "file": SimpleUploadedFile("list.csv", data),
            "action": "add",
            "tag_ids": [corp["vip"]],
        },
        **write_key,
    )

    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["source"], job["file_name"], job["total"]) == ("csv", "list.csv", 5)
    with schema_context("alpha"):
        bulk_job_run(bulk_tag_job_id=job["id"])

    rows_url = f"/api/v1/bulk-tag-jobs/{job['id']}/rows/"
    invalid = client_a.get(rows_url, {"status": "invalid"}, **write_key).json()["results"]
    assert [(r["line"], r["value"], r["error"]) for r in invalid] == [
        (3, "hello", "neither an external_userid (wm…/wo…) nor a phone number"),
        (4, "138****0002", "same as line 2"),  # the key may not read phone numbers
    ]
    every = client_a.get(rows_url, {"page_size": 3}, **write_key).json()
    assert [r["line"] for r in every["results"]] == [2, 3, 4]
    rest = client_a.get(every["next"], **write_key).json()["results"]
    assert sorted(
        (r["line"], r["external_userid"], r["guide_userid"], r["status"]) for r in rest
    ) == [
        (5, "wmAPI0000", "amy", "done"),
        (5, "wmAPI0000", "bob", "done"),
    ]
    assert wecom_tags(corp["control"], "wmAPI0002") == {"amy": [corp["vip"]]}


def test_a_rule_is_applied_retroactively_through_the_api(corp, client_a, write_key):
    with schema_context("alpha"):
        poster = Channel.objects.create(name="海报")
        LiveCode.objects.create(channel=poster, state="poster")
    rule = client_a.post(
        "/api/v1/tag-rules/",
        {"name": "海报客户", "tag_ids": [corp["vip"]], "channel_ids": [poster.pk]},
        content_type="application/json",
        **write_key,
    ).json()

    response = client_a.post(f"/api/v1/tag-rules/{rule['id']}/apply/", **write_key)

    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["source"], job["rule"], job["total"], job["tag_ids"]) == (
        "rule",
        rule["id"],
        2,
        [corp["vip"]],
    )
    with schema_context("alpha"):
        bulk_job_run(bulk_tag_job_id=job["id"])
    assert [wecom_tags(corp["control"], f"wmAPI{n:04d}")["amy"] for n in range(4)] == [
        [corp["vip"]],
        [corp["vip"]],
        [],
        [],
    ]
    also = client_a.post(
        "/api/v1/bulk-tag-jobs/", {"rule": rule["id"]}, content_type="application/json", **write_key
    )
    assert also.status_code == 202


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"non_field_errors": ["Give exactly one of segment, rule or file."]}),
        (
            {"segment": 1, "rule": 1},
            {"non_field_errors": ["Give exactly one of segment, rule or file."]},
        ),
        (
            {"segment": 1},
            {"action": ["This field is required."], "tag_ids": ["This field is required."]},
        ),
        (
            {"segment": 999999, "action": "add", "tag_ids": ["et1"]},
            {"segment": ["No such segment."]},
        ),
        ({"rule": 999999}, {"rule": ["No such rule."]}),
        (
            {"segment": "SEGMENT", "action": "add", "tag_ids": ["etGONE"]},
            {"non_field_errors": ["unknown tags: etGONE"]},
        ),
        (
            {"segment": "SEGMENT", "action": "tag", "tag_ids": ["et1"]},
            {"action": ['"tag" is not a valid choice.']},
        ),
    ],
)
def test_a_job_that_cannot_start_answers_400(people, client_a, write_key, body, errors):
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="全部", definition={"op": "and", "rules": []}
        )
    if body.get("segment") == "SEGMENT":
        body = {**body, "segment": segment.pk}

    response = client_a.post(
        "/api/v1/bulk-tag-jobs/", body, content_type="application/json", **write_key
    )

    assert response.status_code == 400
    assert response.json() == errors
    with schema_context("alpha"):
        assert not BulkTagJob.objects.exists()


def test_an_unreadable_csv_answers_400(people, client_a, write_key):
    response = client_a.post(
        "/api/v1/bulk-tag-jobs/",
        {
            "file": SimpleUploadedFile("x.csv", b"\n"),
            "action": "add",
            "tag_ids": [people["vip_tag"]],
        },
        **write_key,
    )

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["the file has no rows"]}


def test_a_running_job_is_cancelled(people, client_a, write_key, read_key):
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="全部", definition={"op": "and", "rules": []}
        )
        job = bulk_job_from_segment(
            segment=segment, action="add", tag_ids=[people["vip_tag"]], actor=None
        )
    url = f"/api/v1/bulk-tag-jobs/{job.pk}/cancel/"

    assert client_a.post(url, **read_key).status_code == 403
    response = client_a.post(url, **write_key)

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["progress"]["pending"] == 4
    again = client_a.post(url, **write_key)
    assert again.status_code == 400
    assert again.json() == {"non_field_errors": ["The job is not running."]}


@pytest.mark.parametrize("jobs", [2, 6])
def test_job_list_query_count_does_not_grow(
    people, client_a, read_key, django_assert_num_queries, jobs
):
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="全部", definition={"op": "and", "rules": []}
        )
        for _index in range(jobs):
            bulk_job_from_segment(
                segment=segment, action="add", tag_ids=[people["vip_tag"]], actor=None
            )

    # routing (3), the key, the page, the progress of its jobs
    with django_assert_num_queries(6):
        response = client_a.get("/api/v1/bulk-tag-jobs/", **read_key)

    rows = response.json()["results"]
    assert len(rows) == jobs
    assert {row["progress"]["pending"] for row in rows} == {4}


def test_another_brands_key_finds_none_of_the_jobs_or_rules(people, client_a, client_b):
    with schema_context("alpha"):
        segment = segment_save(
            segment=None, actor=None, name="全部", definition={"op": "and", "rules": []}
        )
        job = bulk_job_from_segment(
            segment=segment, action="add", tag_ids=[people["vip_tag"]], actor=None
        )
        rule = AutoTagRule.objects.create(name="规则", tag_ids=[people["vip_tag"]])
    beta_key = key(APIKey.Scope.READ_WRITE, schema="beta")

    assert client_b.get(f"/api/v1/bulk-tag-jobs/{job.pk}/", **beta_key).status_code == 404
    assert client_b.get(f"/api/v1/bulk-tag-jobs/{job.pk}/rows/", **beta_key).status_code == 404
    assert client_b.post(f"/api/v1/bulk-tag-jobs/{job.pk}/cancel/", **beta_key).status_code == 404
    assert client_b.get(f"/api/v1/tag-rules/{rule.pk}/", **beta_key).status_code == 404
    assert client_b.post(f"/api/v1/tag-rules/{rule.pk}/apply/", **beta_key).status_code == 404
