import csv
import io

from django.db import connection
from django.utils import translation
from django_tenants.utils import schema_context

from contacts.exports import BOM, customer_export_lines
from contacts.models import Relation
from contacts.selectors import CustomerFilters
from contacts.tests.factories import CustomerFactory, GuideFactory, RelationFactory


def rows_of(lines) -> list[list[str]]:
    text = "".join(lines)
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :])))


def test_export_walks_every_chunk_once(db):
    with schema_context("alpha"):
        guides = [GuideFactory() for _index in range(3)]
        expected = set()
        for index in range(11):
            customer = CustomerFactory()
            for guide in guides[: 1 + index % 3]:
                RelationFactory(guide=guide, customer=customer)
                expected.add((customer.external_userid, guide.userid))

        rows = rows_of(customer_export_lines(CustomerFilters(), chunk_size=4))

    body = rows[1:]
    assert len(body) == len(expected) == 21
    assert {(row[0], row[4]) for row in body} == expected


def test_export_reads_the_schema_and_language_of_the_request_not_of_the_iteration(db):
    with schema_context("alpha"):
        RelationFactory(
            customer=CustomerFactory(external_userid="wmALPHA"),
            status=Relation.Status.DELETED_BY_GUIDE,
        )
        with translation.override("en"):
            lines = customer_export_lines(CustomerFilters(), chunk_size=2)

    # the response streams later, after the middleware switched schema and language back
    assert connection.schema_name == "public"
    with translation.override("zh-hans"):
        rows = rows_of(lines)

    assert rows[0][0] == "External userid"
    assert rows[1][0] == "wmALPHA"
    assert rows[1][-1] == "Deleted by the guide"


def test_export_of_no_customers_is_the_header_only(db):
    with schema_context("alpha"):
        rows = rows_of(customer_export_lines(CustomerFilters(q="nobody")))

    assert len(rows) == 1
