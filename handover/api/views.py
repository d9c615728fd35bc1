"""The handovers REST API: list and read handovers with their counts per item status, start
one (or preview it without writing), cancel it, re-allocate its failed items, and read its
items.

Views parse input (handover.api.serializers), read through handover.selectors and write
through handover.services. What a service refuses (HandoverInputError) answers 400 with its
message under `non_field_errors`; nothing was saved then. Sending runs in the background:
a start answers 201 and the handover is polled at /handovers/{id}/.
"""

import csv
import io
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.api.filters import params_of, parse_id
from contacts.api.views import (
    DETAIL_ERRORS,
    ID_PARAMETER,
    LIST_ERRORS,
    UNAUTHORIZED,
    ContactsViewSet,
    field_errors_response,
    write_errors,
)
from contacts.models import Guide, Store
from contacts.selectors import guides_find
from handover.allocation import HandoverInputError, allocation_plan, reason_text
from handover.api.serializers import (
    CancelledSerializer,
    HandoverPlanSerializer,
    HandoverPreviewSerializer,
    HandoverSerializer,
    ReallocatedSerializer,
    ReallocateSerializer,
    TransferItemListParams,
    TransferItemSerializer,
)
from handover.models import Handover, TransferItem
from handover.selectors import (
    handover_get,
    handover_item_counts,
    handover_list,
    transfer_item_list,
)
from handover.services import handover_cancel, handover_start, items_reallocate
from handover.views import plan_summary
from scrm.api.pagination import IdCursorPagination
from tagging.api.audience_views import AnyAPIKey

REFUSED = field_errors_response(
    example={
        "non_field_errors": [
            "hand over departed guides and working guides separately: WeCom has two kinds"
        ]
    },
    description="A bad field (named), or a handover the service refuses (`non_field_errors`: "
    "departed and working guides mixed, a departed taker, no customers to hand over, a "
    "handover already over…); nothing was saved or sent.",
)
WRITE_ERRORS = write_errors(REFUSED)


def _body(serializer_class: type, data: Any) -> dict[str, Any]:
    body = serializer_class(data=data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _refused(exc: Exception) -> ValidationError:
    return ValidationError({"non_field_errors": [str(exc)]})


def _guides(userids: list[str], field: str) -> list[Guide]:
    guides, missing = guides_find(refs=userids)
    if missing:
        raise ValidationError(
            {field: [_("No guide with the userid: %(refs)s.") % {"refs": ", ".join(missing)}]}
        )
    return guides


def _mapping_csv(mapping: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["external_userid", "takeover_userid"])  # a header: no row is taken for one
    for row in mapping:
        writer.writerow([row["external_userid"], row["takeover_userid"]])
    return out.getvalue().encode()


def _plan_arguments(body: dict[str, Any]) -> dict[str, Any]:
    mode = body["mode"]
    store = None
    if mode == Handover.Mode.EVEN_CHOSEN_STORE and body.get("store") is not None:
        store = Store.objects.filter(department_id=body["store"]).first()
        if store is None:
            raise ValidationError({"store": [_("No store with this department id.")]})
    csv_data = None
    if mode == Handover.Mode.CSV:
        if not body["mapping"]:
            raise ValidationError({"mapping": [_("Give the mapping: customer → guide.")]})
        csv_data = _mapping_csv(body["mapping"])
    return {
        "from_guides": _guides(body["from_guides"], "from_guides"),
        "mode": mode,
        "takers": _guides(body["takers"], "takers")
        if mode in (Handover.Mode.ONE, Handover.Mode.EVEN_LIST)
        else [],
        "store": store,
        "max_per_guide": body.get("max_per_guide"),
        "csv_data": csv_data,
        "include_chats": body["include_chats"],
    }


class ItemPagination(IdCursorPagination):
    """A handover's items in the order they were planned."""

    ordering = "id"


@extend_schema_view(
    list=extend_schema(
        summary="List handovers (newest first), with their counts per item status",
        description="Proposals (`proposed`, not started: a departed guide found by WeCom's "
        "callback or unassigned list) and started handovers.",
        responses={200: HandoverSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One handover, with its counts per item status",
        description="Poll this while `status` is `sending` or `waiting`.",
        parameters=[ID_PARAMETER],
        responses={200: HandoverSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Start a handover",
        description="Plans the allocation and starts sending to WeCom in the background. "
        "Departed guides give a resigned transfer, working guides an on-duty transfer (2 per "
        "customer in 90 days; `message` shown to the customer). WeCom completes customer "
        "transfers 24 hours later unless the customer refuses; group chats move at once. "
        "Needs a read-write key.",
        request=HandoverPlanSerializer,
        responses={201: HandoverSerializer, **WRITE_ERRORS},
    ),
)
class HandoverViewSet(ContactsViewSet):
    serializer_class = HandoverSerializer
    http_method_names = ["get", "post", "head", "options"]

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(handover_list(with_takers=True)) or []
        counts = handover_item_counts(h.pk for h in page)
        data = HandoverSerializer(page, many=True, context={"counts": counts}).data
        return self.get_paginated_response(data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._shaped(self._handover(pk)))

    def create(self, request: Request) -> Response:
        body = _body(HandoverPlanSerializer, request.data)
        arguments = _plan_arguments(body)
        proposal = None
        if body.get("proposal") is not None:
            proposal = Handover.objects.filter(pk=body["proposal"]).first()
            if proposal is None:
                raise ValidationError({"proposal": [_("No such handover.")]})
        try:
            handover = handover_start(
                **arguments,
                message=body.get("message"),
                trigger=Handover.Trigger.API,
                proposal=proposal,
                actor=request.auth,
                request=request._request,
            )
        except HandoverInputError as exc:
            raise _refused(exc) from None
        return Response(self._shaped(handover_get(handover_id=handover.pk)), status=201)

    @extend_schema(
        summary="Preview a handover without starting it",
        description="The allocation the same body would start now: per takeover guide their "
        "customers and what they would receive, items left unallocated (with why) or "
        "skipped, and mapping rows not used. Writes nothing; any key may call it.",
        request=HandoverPlanSerializer,
        responses={200: HandoverPreviewSerializer, 400: REFUSED, 401: UNAUTHORIZED},
    )
    @action(detail=False, methods=["post"], permission_classes=[AnyAPIKey], pagination_class=None)
    def preview(self, request: Request) -> Response:
        body = _body(HandoverPlanSerializer, request.data)
        try:
            plan = allocation_plan(**_plan_arguments(body))
        except HandoverInputError as exc:
            raise _refused(exc) from None
        summary = plan_summary(plan)
        answer = {
            "kind": plan.kind,
            "takers": [
                {
                    "userid": row["guide"].userid,
                    "name": row["guide"].name,
                    "current": row["current"],
                    "customers": row["customers"],
                    "chats": row["chats"],
                }
                for row in summary["takers"]
            ],
            "customers_to_send": summary["customers_to_send"],
            "chats_to_send": summary["chats_to_send"],
            "unallocated": summary["customers_unallocated"] + summary["chats_unallocated"],
            "skipped": summary["customers_skipped"] + summary["chats_skipped"],
            "in_flight": plan.in_flight,
            "reasons": [
                {"target": item_target, "reason": reason_text(error), "count": n}
                for (item_target, error), n in _reason_counts(plan).items()
            ],
            "mapping_problems": [
                {"value": p.value, "reason": reason_text(p.reason)} for p in plan.csv_problems
            ],
        }
        return Response(HandoverPreviewSerializer(answer).data)

    @extend_schema(
        summary="Cancel a handover",
        description="Items not yet sent are cancelled. Items WeCom already has go on there "
        "(WeCom offers no way to take a transfer back); the handover stays `waiting` until "
        "their results are in. 400 if the handover is already over. Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=None,
        responses={200: CancelledSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        handover = self._handover(pk)
        try:
            cancelled = handover_cancel(
                handover=handover, actor=request.auth, request=request._request
            )
        except HandoverInputError as exc:
            raise _refused(exc) from None
        return Response(
            {"cancelled": cancelled, "handover": self._shaped(self._handover(handover.pk))}
        )

    @extend_schema(
        summary="Re-allocate a handover's failed items to other guides",
        description="Items with no takeover guide, whose takeover guide was full, or that "
        "failed go evenly to `takers` (within the handover's maximum per guide) and are sent "
        "again. Refusals by the customer and the 90-day rule cannot be fixed this way. "
        "Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=ReallocateSerializer,
        responses={200: ReallocatedSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def reallocate(self, request: Request, pk: str | None = None) -> Response:
        handover = self._handover(pk)
        body = _body(ReallocateSerializer, request.data)
        takers = _guides(body["takers"], "takers")
        try:
            moved = items_reallocate(
                handover=handover, takers=takers, actor=request.auth, request=request._request
            )
        except HandoverInputError as exc:
            raise _refused(exc) from None
        return Response(
            {"reallocated": moved, "handover": self._shaped(self._handover(handover.pk))}
        )

    @extend_schema(
        summary="A handover's items: one per customer and per group chat",
        description="In planning order, cursor-paginated; `?status=` narrows to some "
        "statuses (repeat it).",
        parameters=[ID_PARAMETER, TransferItemListParams],
        responses={200: TransferItemSerializer(many=True), **DETAIL_ERRORS},
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=TransferItemSerializer,
        pagination_class=ItemPagination,
    )
    def items(self, request: Request, pk: str | None = None) -> Response:
        handover_id = parse_id(pk)
        if not Handover.objects.filter(pk=handover_id).exists():
            raise NotFound(_("No such handover."))
        params = params_of(TransferItemListParams, request.query_params)
        items = transfer_item_list(handover_id=handover_id, statuses=params.get("status") or ())
        return self.paginated(items)

    def _handover(self, pk: Any) -> Handover:
        try:
            return handover_get(handover_id=parse_id(pk))
        except Handover.DoesNotExist:
            raise NotFound(_("No such handover.")) from None

    def _shaped(self, handover: Handover) -> Any:
        counts = handover_item_counts([handover.pk])
        return HandoverSerializer(handover, context={"counts": counts}).data


def _reason_counts(plan: Any) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for item in plan.items:
        if item.status == TransferItem.Status.UNALLOCATED:
            key = (item.target, item.error)
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
