"""The orders and custom events REST API: push orders and events (one or a batch of up to
500), read them back, and import a CSV of historical orders.

Views check shapes (orders.api.serializers), look stores up, and write through
orders.services; the POSTs honour `Idempotency-Key` (scrm.api.idempotency). A pushed order
or event is stored whether or not its customer is found; `matched_by` and `match_problem`
say which, and a waiting one is matched when the customer appears.
"""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.api.filters import params_of, parse_id
from contacts.api.views import (
    DETAIL_ERRORS,
    ID_PARAMETER,
    LIST_ERRORS,
    ContactsViewSet,
    field_errors_response,
    write_errors,
)
from contacts.models import Store
from orders import imports
from orders.api.serializers import (
    EventBatchResultSerializer,
    EventBatchSerializer,
    EventBatchWriteSerializer,
    EventListParams,
    EventSerializer,
    EventWriteSerializer,
    ImportRowListParams,
    ImportRowSerializer,
    ImportSerializer,
    ImportUploadSerializer,
    OrderBatchResultSerializer,
    OrderBatchSerializer,
    OrderBatchWriteSerializer,
    OrderListParams,
    OrderSerializer,
    OrderWriteSerializer,
    keys_of,
)
from orders.matching import Keys
from orders.models import CustomEvent, Order, OrderImport
from orders.selectors import (
    EventFilters,
    OrderFilters,
    event_get,
    event_list,
    import_get,
    import_list,
    import_rows,
    order_get,
    order_list,
)
from orders.services import EventInput, OrderInput, Outcome, events_record, orders_upsert
from scrm.api import idempotency
from scrm.api.pagination import IdCursorPagination

REFUSED = field_errors_response(
    example={"amount": ["Required for a new order."], "phone": ["Not a phone number."]},
    description="A bad field, named with its messages (a new order without `amount`, "
    "`paid_at` or a customer key; an unknown `store`); nothing was saved.",
)
WRITE_ERRORS = {
    **write_errors(REFUSED),
    422: idempotency.KEY_REUSED,
}
ORDER_VALUES = ("amount", "items", "paid_at", "status", "refunded_at")


def _stores(department_ids: set[int]) -> dict[int, Store]:
    return {s.department_id: s for s in Store.objects.filter(department_id__in=department_ids)}


def _order_input(body: dict[str, Any], stores: dict[int, Store]) -> OrderInput:
    """Raises ValidationError naming `store` when it is not one of the brand's."""
    values = {name: body[name] for name in ORDER_VALUES if name in body}
    if "store" in body:
        department_id = body["store"]
        if department_id is not None and department_id not in stores:
            raise ValidationError({"store": [_("No store with this WeCom department id.")]})
        values["store"] = stores.get(department_id) if department_id is not None else None
    return OrderInput(
        order_id=body["order_id"],
        source=body.get("source", ""),
        keys=keys_of(body),
        values=values,
    )


def _event_input(body: dict[str, Any]) -> EventInput:
    return EventInput(
        type=body["type"],
        occurred_at=body["occurred_at"],
        keys=keys_of(body) or Keys(),
        properties=body.get("properties") or {},
        event_id=body.get("event_id", ""),
    )


def _validated(serializer_class: type, data: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    body = serializer_class(data=data)
    if body.is_valid():
        return dict(body.validated_data), {}
    return None, dict(body.errors)


def _batch_answer(outcomes: dict[int, Outcome], size: int) -> dict[str, Any]:
    results = []
    for index in range(size):
        outcome = outcomes[index]
        row = outcome.row
        results.append(
            {
                "index": index,
                "result": outcome.result,
                "id": row.pk if row is not None else None,
                "matched_by": row.matched_by if row is not None else None,
                "match_problem": row.match_problem if row is not None else None,
                "errors": outcome.errors,
            }
        )
    return {
        "created": sum(1 for r in results if r["result"] == "created"),
        "updated": sum(1 for r in results if r["result"] == "updated"),
        "invalid": sum(1 for r in results if r["result"] == "invalid"),
        "results": results,
    }


ORDER_LIST_DESCRIPTION = (
    "Newest paid first, keyset-paginated. `matched=false` lists orders still waiting for "
    "their customer."
)


@extend_schema_view(
    list=extend_schema(
        summary="List orders (newest paid first)",
        description=ORDER_LIST_DESCRIPTION,
        parameters=[OrderListParams],
        responses={200: OrderSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One order",
        parameters=[ID_PARAMETER],
        responses={200: OrderSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Push an order (create, or update the same source + order_id)",
        description="The customer is found by `external_userid`, else `unionid`, else "
        "`phone` (a remark phone a guide entered). An order whose customer is not found is "
        "kept and matched when the customer appears. Pushing the same `source` + `order_id` "
        "again updates it (201 the first time, 200 after): fields left out keep their "
        "values, so a refund may send only `status`. Needs a read-write key.",
        request=OrderWriteSerializer,
        parameters=[idempotency.PARAMETER],
        responses={201: OrderSerializer, 200: OrderSerializer, **WRITE_ERRORS},
    ),
)
class OrderViewSet(ContactsViewSet):
    serializer_class = OrderSerializer
    http_method_names = ["get", "post", "head", "options"]
    lookup_value_regex = "[0-9]+"

    def list(self, request: Request) -> Response:
        params = params_of(OrderListParams, request.query_params)
        filters = OrderFilters(
            external_userid=params.get("customer") or "",
            matched=params.get("matched"),
            status=params.get("status") or "",
            source=params.get("source") or "",
            order_id=params.get("order_id") or "",
            paid_from=params.get("paid_from"),
            paid_to=params.get("paid_to"),
        )
        return self.paginated(order_list(filters))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        try:
            return self.ok(order_get(order_id=parse_id(pk)))
        except Order.DoesNotExist:
            raise NotFound(_("No such order.")) from None

    @idempotency.idempotent
    def create(self, request: Request) -> Response:
        body = OrderWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        stores = _stores({data["store"]} if data.get("store") is not None else set())
        [outcome] = orders_upsert(inputs=[_order_input(data, stores)])
        if outcome.result == "invalid":
            raise ValidationError(outcome.errors)
        response = self.ok(order_get(order_id=outcome.row.pk))
        response.status_code = 201 if outcome.result == "created" else 200
        return response

    @extend_schema(
        summary="Push up to 500 orders at once",
        description="Each order as in a single push, answered one by one in `results` (in "
        "the request's order): `created`, `updated`, or `invalid` with its errors (nothing "
        "saved for that one; the others are saved). An order given twice in one batch is "
        "invalid after its first. Needs a read-write key.",
        request=OrderBatchWriteSerializer,
        parameters=[idempotency.PARAMETER],
        responses={200: OrderBatchResultSerializer, **WRITE_ERRORS},
    )
    @action(detail=False, methods=["post"], pagination_class=None)
    @idempotency.idempotent
    def batch(self, request: Request) -> Response:
        body = OrderBatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        raw = body.validated_data["orders"]
        outcomes: dict[int, Outcome] = {}
        valid: dict[int, dict[str, Any]] = {}
        for index, item in enumerate(raw):
            data, errors = _validated(OrderWriteSerializer, item)
            if data is None:
                outcomes[index] = Outcome("invalid", errors=errors)
            else:
                valid[index] = data
        stores = _stores({d["store"] for d in valid.values() if d.get("store") is not None})
        inputs: dict[int, OrderInput] = {}
        first: dict[tuple[str, str], int] = {}
        for index, data in valid.items():
            identity = (data.get("source", ""), data["order_id"])
            if identity in first:
                message = _("The same order as index %(index)d.") % {"index": first[identity]}
                outcomes[index] = Outcome("invalid", errors={"order_id": [message]})
                continue
            try:
                inputs[index] = _order_input(data, stores)
            except ValidationError as exc:
                outcomes[index] = Outcome("invalid", errors=dict(exc.detail))  # type: ignore[arg-type]
                continue
            first[identity] = index
        results = orders_upsert(inputs=list(inputs.values()))
        outcomes.update(zip(inputs, results, strict=True))
        return Response(_batch_answer(outcomes, len(raw)))


@extend_schema_view(
    list=extend_schema(
        summary="List custom events (newest first)",
        parameters=[EventListParams],
        responses={200: EventSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One custom event",
        parameters=[ID_PARAMETER],
        responses={200: EventSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Push a custom event",
        description="Something the customer did in your systems (`type`, your slug) with its "
        "`properties`; shown on the customer's timeline. The customer is found as for "
        "orders; an event whose customer is not found is kept and matched later. With an "
        "`event_id` seen before, that event is updated (200) instead of a new one (201). "
        "Needs a read-write key.",
        request=EventWriteSerializer,
        parameters=[idempotency.PARAMETER],
        responses={201: EventSerializer, 200: EventSerializer, **WRITE_ERRORS},
    ),
)
class EventViewSet(ContactsViewSet):
    serializer_class = EventSerializer
    http_method_names = ["get", "post", "head", "options"]
    lookup_value_regex = "[0-9]+"

    def list(self, request: Request) -> Response:
        params = params_of(EventListParams, request.query_params)
        filters = EventFilters(
            external_userid=params.get("customer") or "",
            matched=params.get("matched"),
            type=params.get("type") or "",
            occurred_from=params.get("occurred_from"),
            occurred_to=params.get("occurred_to"),
        )
        return self.paginated(event_list(filters))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        try:
            return self.ok(event_get(event_id=parse_id(pk)))
        except CustomEvent.DoesNotExist:
            raise NotFound(_("No such event.")) from None

    @idempotency.idempotent
    def create(self, request: Request) -> Response:
        body = EventWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        [outcome] = events_record(inputs=[_event_input(dict(body.validated_data))])
        if outcome.result == "invalid":
            raise ValidationError(outcome.errors)
        response = self.ok(event_get(event_id=outcome.row.pk))
        response.status_code = 201 if outcome.result == "created" else 200
        return response

    @extend_schema(
        summary="Push up to 500 custom events at once",
        description="Each event as in a single push, answered one by one in `results`. An "
        "`event_id` given twice in one batch is invalid after its first. Needs a read-write "
        "key.",
        request=EventBatchWriteSerializer,
        parameters=[idempotency.PARAMETER],
        responses={200: EventBatchResultSerializer, **WRITE_ERRORS},
    )
    @action(detail=False, methods=["post"], pagination_class=None)
    @idempotency.idempotent
    def batch(self, request: Request) -> Response:
        body = EventBatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        raw = body.validated_data["events"]
        outcomes: dict[int, Outcome] = {}
        inputs: dict[int, EventInput] = {}
        first: dict[str, int] = {}
        for index, item in enumerate(raw):
            data, errors = _validated(EventWriteSerializer, item)
            if data is None:
                outcomes[index] = Outcome("invalid", errors=errors)
                continue
            event_id = data.get("event_id", "")
            if event_id and event_id in first:
                message = _("The same event as index %(index)d.") % {"index": first[event_id]}
                outcomes[index] = Outcome("invalid", errors={"event_id": [message]})
                continue
            if event_id:
                first[event_id] = index
            inputs[index] = _event_input(data)
        results = events_record(inputs=list(inputs.values()))
        outcomes.update(zip(inputs, results, strict=True))
        return Response(_batch_answer(outcomes, len(raw)))


class ImportRowPagination(IdCursorPagination):
    ordering = "id"


@extend_schema_view(
    list=extend_schema(
        summary="List order imports (newest first)",
        responses={200: ImportSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One order import, with its counts",
        description="Poll this while `status` is `queued` or `running`.",
        parameters=[ID_PARAMETER],
        responses={200: ImportSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Import a CSV of historical orders",
        description="Multipart upload (`file`). The file is checked at once (size, "
        "encoding, header); its rows are imported in the background: poll the import, then "
        "read its rows (`?status=invalid` for the ones refused, with line and reason). "
        "Needs a read-write key.",
        request={"multipart/form-data": ImportUploadSerializer},
        parameters=[idempotency.PARAMETER],
        responses={201: ImportSerializer, **WRITE_ERRORS},
    ),
)
class OrderImportViewSet(ContactsViewSet):
    serializer_class = ImportSerializer
    http_method_names = ["get", "post", "head", "options"]
    pagination_class = IdCursorPagination
    lookup_value_regex = "[0-9]+"
    parser_classes = [MultiPartParser, FormParser]

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(import_list()) or []
        counts = imports.order_import_counts([job.pk for job in page])
        return self.get_paginated_response(
            ImportSerializer(page, many=True, context={"counts": counts}).data
        )

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._shaped(self._job(pk)))

    @idempotency.idempotent
    def create(self, request: Request) -> Response:
        body = ImportUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        try:
            job = imports.order_import_start(
                data=upload.read(imports.MAX_CSV_BYTES + 1),
                file_name=upload.name or "orders.csv",
                actor=request.auth,
                source=body.validated_data["source"],
                require_match=body.validated_data["require_match"],
            )
        except imports.ImportInputError as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        return Response(self._shaped(job), status=201)

    @extend_schema(
        summary="An import's rows: line, order id, result and reason",
        parameters=[ID_PARAMETER, ImportRowListParams],
        responses={200: ImportRowSerializer(many=True), **DETAIL_ERRORS},
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=ImportRowSerializer,
        pagination_class=ImportRowPagination,
    )
    def rows(self, request: Request, pk: str | None = None) -> Response:
        job = self._job(pk)
        params = params_of(ImportRowListParams, request.query_params)
        rows = import_rows(import_id=job.pk, statuses=sorted(params.get("status") or ()))
        return self.paginated(rows)

    def _job(self, pk: Any) -> OrderImport:
        try:
            return import_get(import_id=parse_id(pk))
        except OrderImport.DoesNotExist:
            raise NotFound(_("No such import.")) from None

    def _shaped(self, job: OrderImport) -> Any:
        counts = imports.order_import_counts([job.pk])
        return ImportSerializer(job, context={"counts": counts}).data
