"""The data and URL walk of the sweeps over every URL of a brand's host (tenant isolation,
console forms): one object of every model in brand alpha, copied row for row into brand beta
with the shown texts marked, and each URL with how it is reached and what ids it takes."""

import re
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context
from model_bakery import baker

from accounts.models import APIKey, User
from accounts.tests.factories import bearer, make_api_key
from conftest import KEPT_TABLES, _truncate_tenant_data, tenant_host

MARK = "ΒLEAK"
# Columns whose text shows on pages: beta's copies get MARK in front.
SHOWN = {
    "name", "title", "text", "content", "description", "remark", "target_label", "url",
    "body", "label", "userid", "external_userid", "order_id", "position", "corp_name",
    "notice", "nickname", "group_nickname", "state", "source", "type",
}  # fmt: skip
NOT_COPIED = KEPT_TABLES | {"django_session", "accounts_apikey", "accounts_idempotencykey"}

# How each URL is reached. "console": an operator's session; "api": an API key;
# "sidebar": a guide's signed token; "open": no credentials (pages to sign in, the schema).
OPEN = {
    "accounts:login", "set_language", "healthz", "api-schema", "api-docs",
    "sidebar:home", "sidebar:login", "sidebar:oauth_callback",
}  # fmt: skip
PREFIX_CLASSES = (("api/v1/", "api"), ("sidebar/api/", "sidebar"))


def url_patterns() -> list[tuple[str, str, URLPattern]]:
    """(route, name, pattern) of every URL of a brand's host, format-suffix twins left out."""
    found = []

    def walk(resolver: URLResolver, prefix: str, namespace: str | None) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                ns = namespace
                if pattern.namespace:
                    ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                walk(pattern, prefix + str(pattern.pattern), ns)
            elif "(?P<format>" not in str(pattern.pattern):
                name = pattern.name or ""
                found.append(
                    (
                        prefix + str(pattern.pattern),
                        f"{namespace}:{name}" if namespace else name,
                        pattern,
                    )
                )

    walk(get_resolver("scrm.urls"), "", None)
    return found


def access_of(route: str, name: str) -> str:
    if name in OPEN:
        return "open"
    for prefix, access in PREFIX_CLASSES:
        if route.startswith(prefix):
            return access
    return "console"


def _copy_alpha_into_beta() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'alpha'")
        tables = sorted(row[0] for row in cursor.fetchall() if row[0] not in NOT_COPIED)
        # a row-for-row copy of consistent data: foreign keys need not be checked in order
        cursor.execute("SET session_replication_role = replica")
        try:
            for table in tables:
                cursor.execute(f'INSERT INTO beta."{table}" SELECT * FROM alpha."{table}"')  # noqa: S608
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
        for table in tables:  # beta's own new rows continue after the copied ids
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [f'beta."{table}"'])
            sequence = cursor.fetchone()[0] if cursor.rowcount else None
            if sequence:
                cursor.execute(
                    f'SELECT setval(%s, COALESCE((SELECT max(id) FROM beta."{table}"), 0) + 1, '  # noqa: S608
                    "false)",
                    [sequence],
                )
        cursor.execute(
            "SELECT table_name, column_name, character_maximum_length FROM "
            "information_schema.columns WHERE table_schema = 'beta' "
            "AND data_type IN ('character varying', 'text')"
        )
        for table, column, length in cursor.fetchall():
            if column in SHOWN and table in tables:
                value = f"'{MARK}' || \"{column}\""
                if length:
                    value = f"left({value}, {length})"
                cursor.execute(
                    f'UPDATE beta."{table}" SET "{column}" = {value} '  # noqa: S608
                    f"WHERE \"{column}\" <> ''"
                )


def _seed_every_model() -> list[str]:
    """One object of every model of the brand's apps (and what refused to be made)."""
    refused = []
    tenant_labels = {"contenttypes", "auth", "sessions", "admin", "messages", "staticfiles"}
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label in tenant_labels or meta.proxy or not meta.managed:
            continue
        if (
            model in (APIKey,)
            or meta.db_table in NOT_COPIED
            or meta.db_table.startswith("tenants_")
        ):
            continue
        try:
            with transaction.atomic():
                baker.make(model, _fill_optional=True)
        except Exception as exc:  # a model with constraints baker cannot guess
            refused.append(f"{meta.label}: {type(exc).__name__}")
    return refused


def kwargs_for(pattern: URLPattern, values: dict[str, str]) -> dict[str, str]:
    names = list(pattern.pattern.converters) or list(
        re.findall(r"\?P<(\w+)>", str(pattern.pattern))
    )
    return {name: values.get(name, "1") for name in names}


@pytest.fixture
def twins(committed_db) -> dict[str, Any]:
    _truncate_tenant_data()  # ids from 1 in both brands
    with schema_context("alpha"):
        refused = _seed_every_model()
        from contacts.models import Customer, Guide, Relation
        from tagging.models import Tag, TagGroup

        relation = Relation.objects.select_related("guide", "customer").order_by("pk").first()
        values = {
            "external_userid": relation.customer.external_userid if relation else "wm",
            "group_id": TagGroup.objects.order_by("pk").values_list("group_id", flat=True).first()
            or "g",
            "tag_id": Tag.objects.order_by("pk").values_list("tag_id", flat=True).first() or "t",
        }
        guide = relation.guide if relation else Guide.objects.order_by("pk").get()
        assert Customer.objects.exists()
    _copy_alpha_into_beta()
    clients: dict[str, Any] = {"values": values, "refused": refused}
    for schema in ("alpha", "beta"):
        with schema_context(schema):
            operator = User.objects.create(username=f"sweep-{schema}", role="admin")
            console = Client(HTTP_HOST=tenant_host(schema))
            console.force_login(operator)
            _, raw = make_api_key(scope=APIKey.Scope.READ_WRITE)
            from sidebar.auth import TOKEN_HEADER, guide_token

            token = guide_token(guide)
        clients[schema] = {
            "console": console,
            "api": bearer(raw),
            "sidebar": {f"HTTP_{TOKEN_HEADER.upper().replace('-', '_')}": token},
        }
    return clients
