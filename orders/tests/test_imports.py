"""CSV import of historical orders: the upload, the worker's planning and batches, the
per-row report."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from accounts.models import AuditLogEntry
from contacts.tests.factories import CustomerFactory, RelationFactory, StoreFactory
from contacts.tests.test_console import body_of, in_english, login
from orders.imports import order_import_run, order_imports_resume
from orders.models import Order, OrderImport, OrderImportRow
from orders.tests.helpers import timeline_kinds
from tests.polling import wait_until

BAD_AND_GOOD = """order_id,external_userid,phone,amount,paid_at,status,store,items
A-1,wmIMP,,100.00,2024-01-01 10:00,paid,,口红*2; 面霜
A-2,,13812345678,abc,2024-01-02,paid,,
A-3,wmIMP,,50,someday,,,
A-4,,,20,2024-01-03,,,
A-1,wmIMP,,100.00,2024-01-01 10:00,,,
"A-5",wmNEW,,"1,299.00",2024/01/05 12:00,已退款,,
A-6,wmIMP,,10.999,2024-01-01,,,
A-7,wmIMP,,10,2024-01-01,,99999,
A-8,wmIMP,,-5,2024-01-01,lost,,
A-9,,+86 139-0000-1234,15,2024-01-09T08:00:00+08:00,,31,"[{""name"": ""围巾"", ""price"": 15}]"
"""


def upload(client, text: str | bytes, name: str = "orders.csv", **fields):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/orders/imports/new/",
        {"file": SimpleUploadedFile(name, data, content_type="text/csv"), **fields},
    )


def job_of(response) -> OrderImport:
    assert response.status_code == 302, response.content.decode()[:2000]
    pk = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    with schema_context("alpha"):
        return OrderImport.objects.get(pk=pk)


def run(job: OrderImport, **kwargs) -> None:
    """What the bulk queue's worker does with the job."""
    with schema_context("alpha"):
        assert order_import_run(import_id=job.pk, **kwargs)
        job.refresh_from_db()


@pytest.fixture
def operator(db, client_a):
    login(client_a, "operator")
    in_english(client_a)
    with schema_context("alpha"):
        customer = CustomerFactory(external_userid="wmIMP")
        other = CustomerFactory()
        RelationFactory(customer=other, remark_mobiles=["13900001234"])
        StoreFactory(department_id=31, name="南京路店")
    return customer


def test_an_import_with_bad_rows_imports_the_rest_and_reports_each_bad_line(client_a, operator):
    job = job_of(upload(client_a, BAD_AND_GOOD, require_match=""))
    assert job.status == OrderImport.Status.QUEUED

    run(job)

    assert job.status == OrderImport.Status.FINISHED
    with schema_context("alpha"):
        orders = {o.order_id: o for o in Order.objects.all()}
        rows = {r.line: r for r in OrderImportRow.objects.filter(job=job)}
        assert AuditLogEntry.objects.filter(action="orders.import_started").count() == 1
    assert sorted(orders) == ["A-1", "A-5", "A-9"]
    assert orders["A-1"].customer == operator
    assert orders["A-1"].items == [{"name": "口红", "quantity": 2}, {"name": "面霜", "quantity": 1}]
    assert orders["A-5"].customer is None  # kept, matched when the customer appears
    assert orders["A-5"].amount == Decimal("1299.00")
    assert orders["A-5"].status == Order.Status.REFUNDED
    assert orders["A-9"].matched_by == "phone"
    assert orders["A-9"].store.name == "南京路店"
    assert [k for k, _d in timeline_kinds(operator)] == ["order"]
    assert {line: (r.status, r.error) for line, r in rows.items()} == {
        2: ("created", ""),
        3: ("invalid", "amount is not a number"),
        4: ("invalid", "paid_at is not a date"),
        5: ("invalid", "no customer key: give external_userid, unionid or phone"),
        6: ("invalid", "same order id as line 2"),
        7: ("created", ""),
        8: ("invalid", "amount has more than 2 decimals"),
        9: ("invalid", "no store with this WeCom department id"),
        10: ("invalid", "amount is negative; status is neither paid nor refunded"),
        11: ("created", ""),
    }

    # the job's page lists the refused lines with their reasons; the report has every row
    page = body_of(client_a.get(f"/orders/imports/{job.pk}/"))
    assert "amount is not a number" in page
    assert 'data-line="6"' in page
    assert "same order id as line 2" in page
    report = client_a.get(f"/orders/imports/{job.pk}/report.csv")
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert lines[0] == ["Line", "Order id", "Result", "Matched by", "Reason"]
    assert len(lines) == 1 + 10
    assert lines[3] == ["4", "A-3", "Invalid row", "", "paid_at is not a date"]
    assert lines[1][:4] == ["2", "A-1", "Imported", "external_userid"]


def test_the_report_speaks_chinese_to_a_chinese_operator(client_a, operator):
    job = job_of(upload(client_a, BAD_AND_GOOD))
    run(job)
    client_a.cookies["django_language"] = "zh-hans"

    report = client_a.get(f"/orders/imports/{job.pk}/report.csv")

    text = b"".join(report.streaming_content).decode("utf-8-sig")
    assert text.startswith("行")  # "Line" in Chinese: the header is translated
    assert "4,A-3," in text


def test_a_gbk_file_with_chinese_headers_is_imported(client_a, operator):
    text = "订单号,客户ID,金额,支付时间,商品\nC-1,wmIMP,￥88,2024-02-01 09:00,口红×3\n"

    job = job_of(upload(client_a, text.encode("gb18030"), name="订单.csv"))
    run(job)

    with schema_context("alpha"):
        order = Order.objects.get(order_id="C-1")
    assert order.amount == Decimal("88.00")
    assert order.items == [{"name": "口红", "quantity": 3}]
    assert order.customer == operator


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("order_id,amount\nX,1\n", "the header must name the columns paid_at"),
        ("order_id,amount,paid_at\nX,1,2024-01-01\n", "at least one of external_userid"),
        (b"\xff\xfe\x00\x00garbage\x81", "neither UTF-8 nor GBK"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_at_upload(client_a, operator, content, message):
    response = upload(client_a, content)

    assert response.status_code == 200
    assert message in body_of(response)
    with schema_context("alpha"):
        assert not OrderImport.objects.exists()


def test_with_require_match_rows_of_unknown_customers_are_refused(client_a, operator):
    with schema_context("alpha"):
        RelationFactory(customer=CustomerFactory(), remark_mobiles=["13900001234"])
    text = (
        "order_id,external_userid,phone,amount,paid_at\n"
        "R-1,wmIMP,,1,2024-01-01\n"
        "R-2,wmNOBODY,,1,2024-01-01\n"
        "R-3,,13900001234,1,2024-01-01\n"
    )

    job = job_of(upload(client_a, text, require_match="on"))
    run(job)

    with schema_context("alpha"):
        assert list(Order.objects.values_list("order_id", flat=True)) == ["R-1"]
        errors = dict(OrderImportRow.objects.filter(job=job).values_list("line", "error"))
    assert errors == {
        2: "",
        3: "no customer has this key",
        4: "the phone number belongs to several customers",
    }


def test_importing_the_same_file_again_updates_and_duplicates_nothing(client_a, operator):
    text = (
        "order_id,external_userid,amount,paid_at\n"
        "D-1,wmIMP,10,2024-01-01\n"
        "D-2,wmIMP,20,2024-01-02\n"
    )
    run(job_of(upload(client_a, text)))

    again = job_of(upload(client_a, text.replace("20,", "25,")))
    run(again)

    with schema_context("alpha"):
        assert Order.objects.count() == 2
        assert Order.objects.get(order_id="D-2").amount == Decimal("25.00")
        statuses = list(again.rows.order_by("line").values_list("status", flat=True))
    assert statuses == ["updated", "updated"]
    assert [k for k, _d in timeline_kinds(operator)] == ["order", "order"]


def test_a_job_whose_worker_died_is_resumed_where_it_stopped(client_a, operator):
    text = "order_id,external_userid,amount,paid_at\n" + "".join(
        f"K-{n},wmIMP,{n},2024-01-01\n" for n in range(1, 8)
    )
    job = job_of(upload(client_a, text))
    with schema_context("alpha"):
        from orders.imports import _batch_import, _claim, _plan

        # a worker plans the job and imports one batch, then dies holding the lease
        assert _claim(job.pk)
        _plan(job)
        assert _batch_import(job, 3) == 3
        assert order_imports_resume() == []  # the lease still runs
        OrderImport.objects.filter(pk=job.pk).update(lease_until="2000-01-01T00:00:00Z")
        assert order_imports_resume() == [job.pk]

    run(job)

    assert job.status == OrderImport.Status.FINISHED
    with schema_context("alpha"):
        assert Order.objects.count() == 7
        assert job.rows.filter(status="created").count() == 7


def test_the_template_can_be_downloaded_and_imported_as_is(client_a, operator):
    response = client_a.get("/orders/imports/template.csv")
    template = b"".join(response.streaming_content)
    assert template.decode("utf-8-sig").startswith("order_id,source,external_userid")

    job = job_of(upload(client_a, template))
    run(job)

    with schema_context("alpha"):
        statuses = dict(job.rows.values_list("line", "status"))
    assert statuses == {2: "created", 3: "invalid"}  # the sample store 1001 is not ours


def test_a_viewer_reads_imports_but_cannot_upload(client_a, operator):
    login(client_a, "viewer")

    assert client_a.get("/orders/imports/").status_code == 200
    assert upload(client_a, BAD_AND_GOOD).status_code == 403


# --- through the API, with a real worker ---------------------------------------------------


@pytest.mark.slow
def test_an_import_uploaded_through_the_api_runs_on_the_worker(committed_db, celery_worker):
    from django.test import Client

    from conftest import tenant_host
    from orders.tests.conftest import api_key

    key = api_key(sees_phones=True)
    client = Client(HTTP_HOST=tenant_host("alpha"))
    client.cookies["django_language"] = "en"
    with schema_context("alpha"):
        CustomerFactory(external_userid="wmIMP")

    response = client.post(
        "/api/v1/order-imports/",
        {"file": SimpleUploadedFile("orders.csv", BAD_AND_GOOD.encode(), content_type="text/csv")},
        **key,
    )
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]

    def finished():
        answer = client.get(f"/api/v1/order-imports/{job_id}/", **key).json()
        return answer if answer["status"] == "finished" else None

    answer = wait_until(finished, timeout=60)
    assert answer["counts"]["created"] == 2  # A-9's store is not in this brand
    assert answer["counts"]["invalid"] == 8
    rows = client.get(f"/api/v1/order-imports/{job_id}/rows/?status=invalid", **key).json()
    assert [(r["line"], r["reason"]) for r in rows["results"]][:2] == [
        (3, "amount is not a number"),
        (4, "paid_at is not a date"),
    ]
