"""The channels REST API: channel groups, channels with their live codes, a channel's stats,
and the welcome messages outside channels.

Views parse input (channels_qr.api.serializers), read through channels_qr.selectors and
write through channels_qr.services (WeCom first), channels_qr.groups and
channels_qr.welcome_messages. Errors: 400 when the input is refused (nothing sent to WeCom),
404 for an unknown id, 409 when the brand is not connected to WeCom, 502 when WeCom
refuses or cannot be reached (nothing saved).
"""

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from channels_qr.api.serializers import (
    ChannelGroupSerializer,
    ChannelGroupWriteSerializer,
    ChannelListParams,
    ChannelSerializer,
    ChannelStatsSerializer,
    ChannelWriteSerializer,
    StatsParamsSerializer,
    WelcomeMessageSerializer,
    WelcomeMessageWriteSerializer,
)
from channels_qr.groups import (
    ChannelGroupInputError,
    channel_group_create,
    channel_group_delete,
    channel_group_rename,
)
from channels_qr.models import Channel, ChannelGroup, WelcomeMessage
from channels_qr.selectors import (
    StatsRangeError,
    channel_get,
    channel_group_get,
    channel_group_list,
    channel_list,
    channel_stats,
    stats_range,
    stats_total,
)
from channels_qr.services import (
    ChannelData,
    ChannelInputError,
    GuideEntry,
    channel_create,
    channel_delete,
    channel_update,
)
from channels_qr.welcome_messages import (
    WelcomeInputError,
    welcome_message_delete,
    welcome_message_save,
)
from contacts.api.filters import params_of, parse_id
from contacts.api.views import (
    DETAIL_ERRORS,
    ID_PARAMETER,
    LIST_ERRORS,
    NOT_CONNECTED,
    WECOM_REFUSED,
    ContactsViewSet,
    field_errors_response,
    not_connected,
    wecom_refusal,
    write_errors,
)
from scrm.wecom.client import WeComNotConnected
from scrm.wecom.errors import WeComError

INPUT_REFUSED = field_errors_response(
    example={"non_field_errors": ["choose at least one guide"]},
    description="A bad field (named), or a channel the service refuses "
    "(`non_field_errors`: no guide for the strategy, working hours without a backup guide, "
    "an unknown tag…); nothing was sent to WeCom.",
)
WRITE_ERRORS = write_errors(INPUT_REFUSED)
WECOM_WRITE_ERRORS: dict[int, Any] = {**WRITE_ERRORS, 409: NOT_CONNECTED, 502: WECOM_REFUSED}


def _body(serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
    body = serializer_class(data=data, partial=partial)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _refused(exc: Exception, field: str = "non_field_errors") -> ValidationError:
    return ValidationError({field: [str(exc)]})


def _through_wecom(write: Callable[[], Any]) -> Any:
    """Run a service call that reaches WeCom; its refusals as 400 / 502 responses."""
    try:
        return write()
    except ChannelInputError as exc:
        raise _refused(exc) from None
    except WeComNotConnected:
        return not_connected()
    except WeComError as exc:
        return wecom_refusal(exc)


# --- channel groups -------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List channel groups (newest first)",
        responses={200: ChannelGroupSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One channel group",
        parameters=[ID_PARAMETER],
        responses={200: ChannelGroupSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Create a channel group",
        description="Groups exist only here, not in WeCom. Needs a read-write key.",
        request=ChannelGroupWriteSerializer,
        responses={201: ChannelGroupSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Rename or reorder a channel group",
        parameters=[ID_PARAMETER],
        request=ChannelGroupWriteSerializer,
        responses={200: ChannelGroupSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a channel group",
        description="Its channels stay, without a group; their live codes keep working.",
        parameters=[ID_PARAMETER],
        responses={204: None, **WRITE_ERRORS},
    ),
)
class ChannelGroupViewSet(ContactsViewSet):
    serializer_class = ChannelGroupSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def list(self, request: Request) -> Response:
        return self.paginated(channel_group_list().order_by("-id"))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self.ok(self._group(pk))

    def create(self, request: Request) -> Response:
        body = _body(ChannelGroupWriteSerializer, request.data)
        try:
            group = channel_group_create(name=body["name"], order=body["order"], actor=request.auth)
        except ChannelGroupInputError as exc:
            raise _refused(exc, "name") from None
        return Response(self.ok(self._group(group.pk)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        group = self._group(pk)
        body = _body(ChannelGroupWriteSerializer, request.data, partial=True)
        if "name" in body and body["name"] != group.name:
            try:
                channel_group_rename(group=group, name=body["name"], actor=request.auth)
            except ChannelGroupInputError as exc:
                raise _refused(exc, "name") from None
        if "order" in body:
            ChannelGroup.objects.filter(pk=group.pk).update(order=body["order"])
        return self.ok(self._group(group.pk))

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        channel_group_delete(group=self._group(pk), actor=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _group(self, pk: Any) -> ChannelGroup:
        try:
            return channel_group_get(group_id=parse_id(pk))
        except ChannelGroup.DoesNotExist:
            raise NotFound(_("No such channel group.")) from None


# --- channels -------------------------------------------------------------------------------


def _current(channel: Channel) -> dict[str, Any]:
    """The channel as a ChannelWriteSerializer body, for PATCH to merge into."""
    return {
        "name": channel.name,
        "group": channel.group_id,
        "is_active": channel.is_active,
        "starts_at": channel.starts_at,
        "ends_at": channel.ends_at,
        "strategy": channel.strategy,
        "guides": [
            {"guide": e.guide_id, "daily_cap": e.daily_cap, "weight": e.weight}
            for e in channel.guides.all()
        ],
        "store": channel.store_id,
        "backup_guide": channel.backup_guide_id,
        "hours": [
            {"weekday": h.weekday, "start": h.start, "end": h.end} for h in channel.hours.all()
        ],
        "tag_ids": list(channel.tag_ids),
        "welcome_text": channel.welcome_text,
        "welcome_attachments": list(channel.welcome_attachments),
        "skip_verify": channel.skip_verify,
    }


def _data(body: dict[str, Any]) -> ChannelData:
    return ChannelData(
        name=body["name"],
        strategy=body["strategy"],
        group_id=body.get("group"),
        is_active=body["is_active"],
        starts_at=body.get("starts_at"),
        ends_at=body.get("ends_at"),
        tag_ids=list(body["tag_ids"]),
        welcome_text=body["welcome_text"],
        welcome_attachments=list(body.get("welcome_attachments") or []),
        guides=[
            GuideEntry(guide_id=e["guide"], daily_cap=e.get("daily_cap"), weight=e.get("weight", 1))
            for e in body["guides"]
        ],
        store_id=body.get("store"),
        backup_guide_id=body.get("backup_guide"),
        hours=[(h["weekday"], h["start"], h["end"]) for h in body["hours"]],
        skip_verify=body["skip_verify"],
    )


STATS_PARAMETERS = [
    ID_PARAMETER,
    OpenApiParameter(
        "from",
        OpenApiTypes.DATE,
        description="First day, YYYY-MM-DD, Beijing time (default: 29 days before `to`).",
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.DATE,
        description="Last day, included (default: today). At most 366 days in all.",
    ),
    OpenApiParameter(
        "by",
        OpenApiTypes.STR,
        enum=["day", "guide"],
        description="`day` (default): one row per day, zeros too; `guide`: one row per guide "
        "per day, days with something only.",
    ),
]


@extend_schema_view(
    list=extend_schema(
        summary="List channels (newest first), with today's adds",
        parameters=[ChannelListParams],
        responses={200: ChannelSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One channel, with its live code and today's adds",
        description="Deleted channels too (`deleted_at` set; the code no longer works).",
        parameters=[ID_PARAMETER],
        responses={200: ChannelSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Create a channel and its live code",
        description="Creates a multi-person contact way in WeCom (type 2, so the printed code "
        "survives any later change of strategy) listing the guides the strategy gives now; "
        "`live_code.qr_code` is the code to print. Needs a read-write key.",
        request=ChannelWriteSerializer,
        responses={201: ChannelSerializer, **WECOM_WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a channel",
        description="Send any field; lists (`guides`, `hours`, `tag_ids`, "
        "`welcome_attachments`) are replaced whole. The contact way's member list, remark and "
        "verification are updated in WeCom first. Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=ChannelWriteSerializer,
        responses={200: ChannelSerializer, **WECOM_WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a channel",
        description="Deletes the contact way in WeCom: every printed copy of the code stops "
        "working. The channel stays readable (`deleted_at`) with its customers and stats.",
        parameters=[ID_PARAMETER],
        responses={204: None, **WECOM_WRITE_ERRORS},
    ),
)
class ChannelViewSet(ContactsViewSet):
    serializer_class = ChannelSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def list(self, request: Request) -> Response:
        params = params_of(ChannelListParams, request.query_params)
        channels = channel_list(group_id=params.get("group"), deleted=params["deleted"])
        return self.paginated(channels.order_by("-id"))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self.ok(self._channel(pk))

    def create(self, request: Request) -> Response:
        body = _body(ChannelWriteSerializer, request.data)
        result = _through_wecom(lambda: channel_create(data=_data(body), actor=request.auth))
        if isinstance(result, Response):
            return result
        return Response(self.ok(self._channel(result.pk)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        channel = self._channel(pk)
        if channel.deleted_at is not None:
            raise ValidationError({"non_field_errors": [_("This channel was deleted.")]})
        body = _body(ChannelWriteSerializer, request.data, partial=True)
        merged = {**_current(channel), **body}
        result = _through_wecom(
            lambda: channel_update(channel=channel, data=_data(merged), actor=request.auth)
        )
        if isinstance(result, Response):
            return result
        return self.ok(self._channel(channel.pk))

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        channel = self._channel(pk)
        if channel.deleted_at is not None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        result = _through_wecom(lambda: channel_delete(channel=channel, actor=request.auth))
        if isinstance(result, Response):
            return result
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A channel's stats per day (or per guide per day)",
        description="adds: customers the code brought that day; deletions: the channel's "
        "customers who deleted their guide that day; net = adds - deletions; retained_7d: of "
        "the day's adds, those still friends now (null until the day is 7 days old); "
        "welcome_rate: welcomes sent / welcomes due (adds with nothing to send are not due). "
        "Days are Beijing days.",
        parameters=STATS_PARAMETERS,
        responses={200: ChannelStatsSerializer, **DETAIL_ERRORS},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def stats(self, request: Request, pk: str | None = None) -> Response:
        channel_id = parse_id(pk)
        if not Channel.objects.filter(pk=channel_id).exists():
            raise NotFound(_("No such channel."))
        params = params_of(StatsParamsSerializer, request.query_params)
        try:
            start, end = stats_range(params.get("from"), params.get("to"))
        except StatsRangeError as exc:
            raise ValidationError({"from": [str(exc)]}) from None
        by = params["by"]
        rows = channel_stats(channel_id=channel_id, start=start, end=end, by=by)
        answer = {
            "channel": channel_id,
            "by": by,
            "start": start,
            "end": end,
            "results": rows,
            "total": stats_total(rows),
        }
        context = {**self.get_serializer_context(), "by_guide": by == "guide"}
        return Response(ChannelStatsSerializer(answer, context=context).data)

    def _channel(self, pk: Any) -> Channel:
        try:
            return channel_get(channel_id=parse_id(pk))
        except Channel.DoesNotExist:
            raise NotFound(_("No such channel.")) from None


# --- welcome messages -----------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List welcome messages outside channels (newest first)",
        description="For adds no channel welcomes: a guide's own first, else the store's, "
        "else the default.",
        responses={200: WelcomeMessageSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One welcome message",
        parameters=[ID_PARAMETER],
        responses={200: WelcomeMessageSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Create a default, guide or store welcome",
        description="One default per brand, one per guide, one per store. Needs a read-write key.",
        request=WelcomeMessageWriteSerializer,
        responses={201: WelcomeMessageSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a welcome message",
        parameters=[ID_PARAMETER],
        request=WelcomeMessageWriteSerializer,
        responses={200: WelcomeMessageSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a welcome message",
        parameters=[ID_PARAMETER],
        responses={204: None, **WRITE_ERRORS},
    ),
)
class WelcomeMessageViewSet(ContactsViewSet):
    serializer_class = WelcomeMessageSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def list(self, request: Request) -> Response:
        return self.paginated(
            WelcomeMessage.objects.select_related("guide", "store").order_by("-id")
        )

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self.ok(self._message(pk))

    def create(self, request: Request) -> Response:
        body = _body(WelcomeMessageWriteSerializer, request.data)
        message = self._save(None, body, request)
        return Response(self.ok(message).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        message = self._message(pk)
        body = _body(WelcomeMessageWriteSerializer, request.data, partial=True)
        merged = {
            "scope": message.scope,
            "guide": message.guide_id,
            "store": message.store_id,
            "text": message.text,
            "attachments": list(message.attachments),
            **body,
        }
        return self.ok(self._save(message, merged, request))

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        welcome_message_delete(message=self._message(pk), actor=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _save(
        self, message: WelcomeMessage | None, body: dict[str, Any], request: Request
    ) -> WelcomeMessage:
        try:
            saved = welcome_message_save(
                message=message,
                scope=body["scope"],
                guide_id=body.get("guide"),
                store_id=body.get("store"),
                text=body.get("text", ""),
                attachments=list(body.get("attachments") or []),
                actor=request.auth,
            )
        except WelcomeInputError as exc:
            raise _refused(exc) from None
        return self._message(saved.pk)

    def _message(self, pk: Any) -> WelcomeMessage:
        message = (
            WelcomeMessage.objects.select_related("guide", "store").filter(pk=parse_id(pk)).first()
        )
        if message is None:
            raise NotFound(_("No such welcome message."))
        return message
