"""The contacts REST API: customers, relations, guides, stores, group chats, sync runs.

Views parse parameters (contacts.api.filters), read through contacts.selectors, write
through contacts.services and shape with contacts.api.serializers; no rules live here.
Lists are keyset-paginated (scrm.api.pagination.KeysetPagination): each page costs the same
few queries whatever its size or depth.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.api.authentication import principal_api_key
from contacts.api.filters import (
    CustomerFilterParams,
    GroupChatFilterParams,
    GuideFilterParams,
    RelationFilterParams,
    SyncRunListParams,
    customer_filters,
    params_of,
    parse_id,
)
from contacts.api.serializers import (
    CustomerEventSerializer,
    CustomerSerializer,
    ErrorSerializer,
    GroupChatDetailSerializer,
    GroupChatSerializer,
    GuideSerializer,
    RelationDetailSerializer,
    RelationRemarkSerializer,
    StoreSerializer,
    SyncConflictSerializer,
    SyncRunListSerializer,
    SyncRunSerializer,
    WeComRefusalSerializer,
)
from contacts.models import Customer, GroupChat, Guide, Relation
from contacts.selectors import (
    customer_get,
    customer_list,
    customer_timeline,
    group_chat_get,
    group_chat_list,
    group_chat_member_list,
    guide_get,
    guide_list,
    relation_list,
    store_list,
    sync_run_list,
)
from contacts.services import SyncAlreadyRunning, relation_remark_update, sync_start
from scrm.api.pagination import KeysetPagination
from scrm.wecom.client import WeComNotConnected
from scrm.wecom.errors import WeComError, WeComRateLimited

# --- documented error responses ------------------------------------------------------------


def field_errors_response(*, example: dict[str, list[str]], description: str) -> OpenApiResponse:
    """A 400 whose body names each bad field (or `non_field_errors`) with its messages."""
    return OpenApiResponse(
        {
            "type": "object",
            # a list of messages per field; a list field's or a nested field's errors nest
            # (by index or by name); a body that is not JSON at all answers under `detail`
            "additionalProperties": {
                "anyOf": [{"type": "array"}, {"type": "object"}, {"type": "string"}]
            },
            "example": example,
        },
        description=description,
    )


BAD_REQUEST = field_errors_response(
    example={"added_from": ["日期格式错误。请从这些格式中选择：YYYY-MM-DD。"]},
    description="A bad parameter or field: each one named, with its messages.",
)
UNAUTHORIZED = OpenApiResponse(
    ErrorSerializer, description="Missing, malformed, unknown or revoked API key."
)
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="A read-only key tried to write.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such object in this brand.")


def write_errors(refused: OpenApiResponse) -> dict[int, Any]:
    """The documented errors of a write: `refused` (400), no key, read-only key, not found."""
    return {400: refused, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND}


WECOM_REFUSED = OpenApiResponse(
    WeComRefusalSerializer,
    description="WeCom refused the change or could not be reached; nothing was saved. "
    "`errcode` and `meaning` say why; retry only when `retryable` is true (after "
    "`Retry-After` seconds when given).",
    examples=[
        OpenApiExample(
            "No such relation in WeCom",
            value={
                "detail": "企业微信拒绝了此修改，未保存任何内容。",
                "errcode": 84061,
                "meaning": "不存在外部联系人关系",
                "retryable": False,
            },
        )
    ],
)

NOT_CONNECTED = OpenApiResponse(
    WeComRefusalSerializer,
    description="The brand is not connected to WeCom yet (the platform admin connects it); "
    "nothing was saved.",
)


def not_connected() -> Response:
    """409: the brand has no WeCom connection, so nothing that goes through WeCom can be
    done (a state of the brand, not a failure of WeCom's)."""
    return Response(
        {
            "detail": _("This brand is not connected to WeCom; nothing was saved."),
            "errcode": None,
            "meaning": "",
            "retryable": False,
        },
        status=status.HTTP_409_CONFLICT,
    )


LIST_ERRORS: dict[int, Any] = {400: BAD_REQUEST, 401: UNAUTHORIZED}
DETAIL_ERRORS: dict[int, Any] = {400: BAD_REQUEST, 401: UNAUTHORIZED, 404: NOT_FOUND}

ID_PARAMETER = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Our id of the object."
)


def sees_phones(request: Request) -> bool:
    api_key = principal_api_key(request)
    return bool(api_key is not None and api_key.sees_phones)


class ContactsViewSet(viewsets.GenericViewSet):
    """Keyset pagination, phone masking by key, ids parsed to 400 rather than 500."""

    pagination_class: type[BasePagination] | None = KeysetPagination
    lookup_value_regex = "[^/]+"

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "sees_phones": sees_phones(self.request)}

    def paginated(
        self, queryset: Any, serializer_class: type[BaseSerializer] | None = None
    ) -> Response:
        page = self.paginate_queryset(queryset)
        serializer_class = serializer_class or self.get_serializer_class()
        serializer = serializer_class(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)

    def ok(self, instance: Any, serializer_class: type[BaseSerializer] | None = None) -> Response:
        serializer_class = serializer_class or self.get_serializer_class()
        return Response(serializer_class(instance, context=self.get_serializer_context()).data)


# --- customers -----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List customers (newest add first)",
        description="Every WeCom external contact of the brand, once, with all its guide "
        "relations. Relation filters (guide, store, status, dates, add_way, state) select "
        "customers with at least one relation matching all of them.",
        parameters=[CustomerFilterParams],
        responses={200: CustomerSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One customer, with its relations",
        parameters=[ID_PARAMETER],
        responses={200: CustomerSerializer, **DETAIL_ERRORS},
    ),
)
class CustomerViewSet(ContactsViewSet):
    serializer_class = CustomerSerializer

    def list(self, request: Request) -> Response:
        params = params_of(CustomerFilterParams, request.query_params)
        filters = customer_filters(params, sees_phones=sees_phones(request))
        return self.paginated(customer_list(filters))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        try:
            customer = customer_get(customer_id=parse_id(pk))
        except Customer.DoesNotExist:
            raise NotFound(_("No such customer.")) from None
        return self.ok(customer)

    @extend_schema(
        summary="A customer's timeline (newest first)",
        description="Adds, deletions, remark edits, tag changes, transfers… of one customer.",
        parameters=[ID_PARAMETER],
        responses={200: CustomerEventSerializer(many=True), **DETAIL_ERRORS},
    )
    @action(detail=True, methods=["get"], serializer_class=CustomerEventSerializer)
    def timeline(self, request: Request, pk: str | None = None) -> Response:
        customer_id = parse_id(pk)
        if not Customer.objects.filter(pk=customer_id).exists():
            raise NotFound(_("No such customer."))
        return self.paginated(customer_timeline(customer_id=customer_id))

    @extend_schema(
        summary="One customer by WeCom external_userid",
        parameters=[
            OpenApiParameter(
                "external_userid",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="WeCom's external_userid (wm…/wo…) as your corp sees it.",
            )
        ],
        responses={200: CustomerSerializer, **DETAIL_ERRORS},
    )
    @action(
        detail=False,
        methods=["get"],
        url_path=r"by-external-userid/(?P<external_userid>[^/]+)",
        url_name="by-external-userid",
        pagination_class=None,
    )
    def by_external_userid(self, request: Request, external_userid: str) -> Response:
        customer = customer_list().filter(external_userid=external_userid).first()
        if customer is None:
            raise NotFound(_("No such customer."))
        return self.ok(customer)


# --- relations -----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List relations (guide x customer, newest add first)",
        description="The customers list's filters apply to the relation itself; `customer` "
        "narrows to one customer's relations.",
        parameters=[RelationFilterParams],
        responses={200: RelationDetailSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One relation",
        parameters=[ID_PARAMETER],
        responses={200: RelationDetailSerializer, **DETAIL_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Edit a relation's remark, description or remark phones",
        description="Written to WeCom first (externalcontact/remark), then saved here and "
        "recorded on the customer's timeline and in the audit log. Send any of the three "
        "fields; a field sent replaces the value (`remark_mobiles` replaces the list). Needs "
        "a read-write key. On any error nothing is saved.",
        parameters=[ID_PARAMETER],
        request=RelationRemarkSerializer,
        responses={
            200: RelationDetailSerializer,
            400: BAD_REQUEST,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: NOT_CONNECTED,
            502: WECOM_REFUSED,
        },
    ),
)
class RelationViewSet(ContactsViewSet):
    serializer_class = RelationDetailSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def list(self, request: Request) -> Response:
        params = params_of(RelationFilterParams, request.query_params)
        filters = customer_filters(params, sees_phones=sees_phones(request))
        return self.paginated(relation_list(filters, customer_id=params.get("customer")))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self.ok(self._relation(pk))

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        relation = self._relation(pk)
        body = RelationRemarkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            relation = relation_remark_update(
                relation=relation, actor=request.auth, **body.validated_data
            )
        except ValueError as exc:
            raise ValidationError(field_error(str(exc))) from None
        except WeComNotConnected:
            return not_connected()
        except WeComError as exc:
            return wecom_refusal(exc)
        return self.ok(relation)

    def _relation(self, pk: str | None) -> Relation:
        relation = relation_list().filter(pk=parse_id(pk)).first()
        if relation is None:
            raise NotFound(_("No such relation."))
        return relation


def field_error(message: str) -> dict[str, list[str]]:
    """The service's `field: message` as DRF's {field: [message]}."""
    name, _sep, text = message.partition(": ")
    if name in RelationRemarkSerializer().fields and text:
        return {name: [text]}
    return {"non_field_errors": [message]}


def wecom_refusal(exc: WeComError) -> Response:
    headers = {}
    if isinstance(exc, WeComRateLimited):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if exc.errcode is None:
        detail = _("WeCom could not be reached; nothing was saved. Try again later.")
    else:
        detail = _("WeCom refused the change; nothing was saved.")
    return Response(
        {
            "detail": detail,
            "errcode": exc.errcode,
            "meaning": exc.meaning or exc.errmsg,
            "retryable": exc.transient,
        },
        status=status.HTTP_502_BAD_GATEWAY,
        headers=headers,
    )


# --- guides, stores, group chats -----------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List guides (导购), newest first",
        description="WeCom members who hold customers, with their active customer count and "
        "adds / deletes over the last `days` days.",
        parameters=[GuideFilterParams],
        responses={200: GuideSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One guide, with its counts",
        parameters=[
            ID_PARAMETER,
            OpenApiParameter(
                "days", OpenApiTypes.INT, description="Window of the recent counts (default 7)."
            ),
        ],
        responses={200: GuideSerializer, **DETAIL_ERRORS},
    ),
)
class GuideViewSet(ContactsViewSet):
    serializer_class = GuideSerializer

    def list(self, request: Request) -> Response:
        params = params_of(GuideFilterParams, request.query_params)
        guides = guide_list(
            store_id=params.get("store"),
            status=params.get("status") or "",
            q=params.get("q") or "",
            days=params["days"],
        )
        return self.paginated(guides.order_by("-id"))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        guide_id = parse_id(pk)
        days = params_of(GuideFilterParams, {"days": request.query_params.get("days", 7)})
        try:
            guide = guide_get(guide_id=guide_id, days=days["days"])
        except Guide.DoesNotExist:
            raise NotFound(_("No such guide.")) from None
        return self.ok(guide)


@extend_schema_view(
    list=extend_schema(
        summary="List stores (WeCom departments), newest first",
        responses={200: StoreSerializer(many=True), **LIST_ERRORS},
    ),
)
class StoreViewSet(mixins.ListModelMixin, ContactsViewSet):
    serializer_class = StoreSerializer

    def get_queryset(self) -> Any:
        return store_list()


@extend_schema_view(
    list=extend_schema(
        summary="List customer group chats, newest first",
        parameters=[GroupChatFilterParams],
        responses={200: GroupChatSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One group chat, with its members",
        parameters=[ID_PARAMETER],
        responses={200: GroupChatDetailSerializer, **DETAIL_ERRORS},
    ),
)
class GroupChatViewSet(ContactsViewSet):
    serializer_class = GroupChatSerializer

    def list(self, request: Request) -> Response:
        params = params_of(GroupChatFilterParams, request.query_params)
        chats = group_chat_list(
            owner_id=params.get("owner"), status=params.get("status") or "", q=params.get("q") or ""
        )
        return self.paginated(chats.order_by("-id"))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        try:
            chat = group_chat_get(chat_id=parse_id(pk))
        except GroupChat.DoesNotExist:
            raise NotFound(_("No such group chat.")) from None
        chat.member_list = list(group_chat_member_list(chat_id=chat.pk))  # type: ignore[attr-defined]
        return self.ok(chat, GroupChatDetailSerializer)


# --- sync ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List the latest full syncs with WeCom",
        parameters=[SyncRunListParams],
        responses={
            200: SyncRunListSerializer,
            **LIST_ERRORS,
        },
    ),
    create=extend_schema(
        summary="Start a full sync with WeCom",
        description="Queues a full sync of stores, guides, customers and group chats; poll "
        "the list for its progress. One sync runs at a time per brand. Needs a read-write "
        "key.",
        request=None,
        responses={
            202: SyncRunSerializer,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            409: OpenApiResponse(
                SyncConflictSerializer, description="A sync is already queued or running."
            ),
        },
    ),
)
class SyncRunViewSet(ContactsViewSet):
    serializer_class = SyncRunSerializer
    pagination_class = None

    def list(self, request: Request) -> Response:
        params = params_of(SyncRunListParams, request.query_params)
        runs = sync_run_list(limit=params["limit"])
        return Response({"results": SyncRunSerializer(runs, many=True).data})

    def create(self, request: Request) -> Response:
        try:
            run = sync_start(trigger="api", actor=request.auth)
        except SyncAlreadyRunning as exc:
            return Response(
                {
                    "detail": _("A sync is already queued or running."),
                    "run": SyncRunSerializer(exc.run).data,
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
