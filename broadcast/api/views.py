"""The group sends REST API: create a send, plan it, read the plan, confirm, cancel, remind
the guides, and read every customer's result.

Views parse input (broadcast.api.serializers), read through broadcast.selectors and write
through broadcast.services and broadcast.planning. Errors: 400 when the service refuses
(its message says why), 404 for an unknown id, 502 when WeCom refuses or cannot be reached.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from broadcast.api.serializers import (
    BroadcastCreateSerializer,
    BroadcastSerializer,
    DeliveryListParams,
    DeliverySerializer,
    RemindResultSerializer,
)
from broadcast.models import Broadcast
from broadcast.planning import BroadcastInputError, broadcast_plan_start
from broadcast.selectors import broadcast_get, broadcast_list, broadcast_progress, delivery_list
from broadcast.services import (
    BroadcastData,
    broadcast_cancel,
    broadcast_confirm,
    broadcast_create,
    broadcast_remind,
)
from contacts.api.filters import params_of, parse_id
from contacts.api.views import (
    DETAIL_ERRORS,
    ID_PARAMETER,
    LIST_ERRORS,
    WECOM_REFUSED,
    ContactsViewSet,
    field_errors_response,
    wecom_refusal,
    write_errors,
)
from scrm.wecom.client import WeComNotConnected
from scrm.wecom.errors import WeComError

REFUSED = field_errors_response(
    example={"non_field_errors": ["only a planned group send can be confirmed"]},
    description="A bad field (named), or a step the group send cannot take now "
    "(`non_field_errors` says why: no audience, a deadline before the send time, not "
    "planned yet, already over…); nothing was changed.",
)
WRITE_ERRORS = write_errors(REFUSED)
WECOM_WRITE_ERRORS: dict[int, Any] = {**WRITE_ERRORS, 502: WECOM_REFUSED}


def _refused(exc: Exception) -> ValidationError:
    return ValidationError({"non_field_errors": [str(exc)]})


def _not_connected() -> Response:
    return Response(
        {
            "detail": _("This brand is not connected to WeCom."),
            "errcode": None,
            "meaning": "",
            "retryable": False,
        },
        status=status.HTTP_502_BAD_GATEWAY,
    )


def _data(body: dict[str, Any]) -> BroadcastData:
    if "chat_ids" in body:
        chat_type, audience, ids = "group", Broadcast.Audience.CHATS, body["chat_ids"]
    elif "external_userids" in body:
        chat_type, audience, ids = "single", Broadcast.Audience.CUSTOMERS, body["external_userids"]
    else:
        chat_type, audience, ids = "single", Broadcast.Audience.SEGMENT, []
    return BroadcastData(
        name=body["name"],
        text=body.get("text") or "",
        attachments=list(body.get("attachments") or []),
        chat_type=chat_type,
        audience=audience,
        segment_id=body.get("segment"),
        audience_ids=list(ids),
        sender_rule=body["sender_rule"],
        sender_store_id=body.get("sender_store"),
        send_at=body.get("send_at"),
        quiet_start=body.get("quiet_start"),
        quiet_end=body.get("quiet_end"),
        deadline=body.get("deadline"),
    )


@extend_schema_view(
    list=extend_schema(
        summary="List group sends (newest first), with their counts",
        description="`progress` is null here: read one group send for it.",
        responses={200: BroadcastSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One group send, with its counts and progress",
        description="Poll this after `plan` (status `planning` → `ready`: `counts` is the plan "
        "to confirm) and after `confirm` (`dispatching`: templates created in WeCom; "
        "`waiting`: the guides send from their WeCom app; `done`).",
        parameters=[ID_PARAMETER],
        responses={200: BroadcastSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Create a group send (a draft)",
        description="Nothing is planned or sent yet: call `plan`, read the counts, then "
        "`confirm`. The audience is one of `segment`, `external_userids` or `chat_ids` (a "
        "send to group chats). Needs a read-write key.",
        request=BroadcastCreateSerializer,
        responses={201: BroadcastSerializer, **WRITE_ERRORS},
    ),
)
class BroadcastViewSet(ContactsViewSet):
    serializer_class = BroadcastSerializer
    http_method_names = ["get", "post", "head", "options"]

    def list(self, request: Request) -> Response:
        return self.paginated(broadcast_list())

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._detail(self._broadcast(pk))

    def create(self, request: Request) -> Response:
        body = BroadcastCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            broadcast = broadcast_create(data=_data(dict(body.validated_data)), actor=request.auth)
        except BroadcastInputError as exc:
            raise _refused(exc) from None
        return self._detail(broadcast, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Plan the group send: freeze its audience",
        description="Answers 202 at once; planning runs in the background (status "
        "`planning`, then `ready`). Every customer of the audience gets one result: "
        "`planned` with the one guide who sends it, or excluded (`no_relation`, `dnd`, "
        "`over_cap`). Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=None,
        responses={202: BroadcastSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def plan(self, request: Request, pk: str | None = None) -> Response:
        broadcast = self._broadcast(pk)
        try:
            broadcast_plan_start(broadcast=broadcast)
        except BroadcastInputError as exc:
            raise _refused(exc) from None
        return self._detail(self._broadcast(pk), status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Confirm the plan: the templates are created in WeCom",
        description="Now, or at `send_at` moved out of the quiet hours (status `scheduled`). "
        "WeCom then shows each guide their template; the guide decides when to send it. "
        "Audit-logged. Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=None,
        responses={200: BroadcastSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        broadcast = self._broadcast(pk)
        try:
            broadcast_confirm(broadcast=broadcast, actor=request.auth, request=request)
        except BroadcastInputError as exc:
            raise _refused(exc) from None
        return self._detail(self._broadcast(pk))

    @extend_schema(
        summary="Cancel the group send",
        description="Templates not created yet are dropped; created ones the guides have not "
        "sent are cancelled in WeCom. What guides already sent stays sent. Needs a "
        "read-write key.",
        parameters=[ID_PARAMETER],
        request=None,
        responses={200: BroadcastSerializer, **WECOM_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        broadcast = self._broadcast(pk)
        try:
            broadcast_cancel(broadcast=broadcast, actor=request.auth, request=request)
        except BroadcastInputError as exc:
            raise _refused(exc) from None
        except WeComNotConnected:
            return _not_connected()
        except WeComError as exc:
            return wecom_refusal(exc)
        return self._detail(self._broadcast(pk))

    @extend_schema(
        summary="Remind the guides who have not sent yet",
        description="In WeCom (at most 3 reminders per template per 24 hours: guides "
        "reminded 3 times are skipped) and with an app message. Only while `waiting`. "
        "Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=None,
        responses={200: RemindResultSerializer, **WECOM_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def remind(self, request: Request, pk: str | None = None) -> Response:
        broadcast = self._broadcast(pk)
        try:
            reminded = broadcast_remind(broadcast=broadcast, actor=request.auth)
        except BroadcastInputError as exc:
            raise _refused(exc) from None
        except WeComNotConnected:
            return _not_connected()
        except WeComError as exc:
            return wecom_refusal(exc)
        return Response({"reminded": reminded})

    @extend_schema(
        summary="Every customer's result (newest row first)",
        description="One row per customer (or group chat) of the audience, with the guide "
        "who sends it and the result. Keyset-paginated like every list.",
        parameters=[ID_PARAMETER, DeliveryListParams],
        responses={200: DeliverySerializer(many=True), **DETAIL_ERRORS},
    )
    @action(detail=True, methods=["get"], serializer_class=DeliverySerializer)
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        broadcast = self._broadcast(pk)
        params = params_of(DeliveryListParams, request.query_params)
        return self.paginated(delivery_list(broadcast=broadcast, status=params.get("status")))

    def _broadcast(self, pk: str | None) -> Broadcast:
        try:
            return broadcast_get(broadcast_id=parse_id(pk))
        except Broadcast.DoesNotExist:
            raise NotFound(_("No such group send.")) from None

    def _detail(self, broadcast: Broadcast, code: int = status.HTTP_200_OK) -> Response:
        context = {**self.get_serializer_context(), "progress": broadcast_progress(broadcast)}
        return Response(BroadcastSerializer(broadcast, context=context).data, status=code)
