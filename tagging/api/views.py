"""The tags REST API: the corp tag catalogue, and marking tags on a relation.

Every write goes to WeCom first through tagging.services and is recorded with source `api`
and the API key as actor. Errors: 400 when the service refuses the input (nothing sent),
404 for an unknown id, 409 when the brand is not connected to WeCom, 502 when WeCom
refuses or cannot be reached (nothing saved).
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.api.filters import params_of, parse_id
from contacts.api.views import (
    BAD_REQUEST,
    FORBIDDEN,
    NOT_CONNECTED,
    NOT_FOUND,
    UNAUTHORIZED,
    WECOM_REFUSED,
    field_errors_response,
    not_connected,
    wecom_refusal,
)
from contacts.selectors import relation_list
from scrm.wecom.client import WeComNotConnected
from scrm.wecom.errors import WeComError
from tagging.api.serializers import (
    RelationTagsChangeSerializer,
    RelationTagSerializer,
    RelationTagsSerializer,
    RenameSerializer,
    TagGroupCreateSerializer,
    TagGroupListSerializer,
    TagGroupSerializer,
    TagListParams,
    TagsAddSerializer,
    TagSerializer,
)
from tagging.models import Tag, TagChange, TagGroup
from tagging.selectors import (
    tag_customer_counts,
    tag_get,
    tag_group_get,
    tag_group_list,
    tags_by_ids,
)
from tagging.services import (
    TagInputError,
    relation_tags_change,
    tag_delete,
    tag_rename,
    tags_add,
)

GROUP_ID = OpenApiParameter(
    "group_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="WeCom's group id."
)
TAG_ID = OpenApiParameter(
    "tag_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="WeCom's tag id."
)
RELATION_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Our id of the relation."
)
INPUT_REFUSED = field_errors_response(
    example={"non_field_errors": ["already in this group: 金卡"]},
    description="A bad field (named), or an edit WeCom would refuse (`non_field_errors`, "
    "e.g. a name already taken, an unknown tag id); nothing was sent to WeCom.",
)
WRITE_ERRORS: dict[int, Any] = {
    400: INPUT_REFUSED,
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    409: NOT_CONNECTED,
    502: WECOM_REFUSED,
}


def _refused_input(exc: TagInputError) -> ValidationError:
    return ValidationError({"non_field_errors": [str(exc)]})


def _valid(serializer_class: type, data: Any) -> dict[str, Any]:
    body = serializer_class(data=data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _group_or_404(group_id: str | None) -> TagGroup:
    try:
        return tag_group_get(group_id=str(group_id))
    except TagGroup.DoesNotExist:
        raise NotFound(_("No such tag group.")) from None


def _tag_or_404(tag_id: str | None) -> Tag:
    try:
        return tag_get(tag_id=str(tag_id))
    except Tag.DoesNotExist:
        raise NotFound(_("No such tag.")) from None


# --- groups ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="The tag catalogue: every group with its tags, in WeCom's order",
        description="The whole catalogue in one answer (WeCom allows 3,000 tags per corp), "
        "so it is not paginated. `?counts=1` adds each tag's `customer_count`.",
        parameters=[TagListParams],
        responses={200: TagGroupListSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED},
    ),
    retrieve=extend_schema(
        summary="One tag group with its tags",
        parameters=[GROUP_ID, TagListParams],
        responses={200: TagGroupSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Create a tag group with its first tags",
        description="Created in WeCom first (externalcontact/add_corp_tag), then saved with "
        "WeCom's ids. Needs a read-write key.",
        request=TagGroupCreateSerializer,
        responses={201: TagGroupSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Rename a tag group",
        parameters=[GROUP_ID],
        request=RenameSerializer,
        responses={200: TagGroupSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a tag group and its tags",
        description="Deleted in WeCom first; every customer loses the group's tags.",
        parameters=[GROUP_ID],
        request=None,
        responses={204: None, **WRITE_ERRORS},
    ),
    tags=extend_schema(
        summary="Add tags to a group",
        description="Created in WeCom first, then saved with WeCom's ids; answers the group "
        "with all its tags.",
        parameters=[GROUP_ID],
        request=TagsAddSerializer,
        responses={201: TagGroupSerializer, **WRITE_ERRORS},
    ),
)
class TagGroupViewSet(viewsets.ViewSet):
    lookup_field = "group_id"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def _counts_context(self, request: Request) -> dict[str, Any]:
        params = params_of(TagListParams, request.query_params)
        return {"customer_counts": tag_customer_counts()} if params["counts"] else {}

    def list(self, request: Request) -> Response:
        context = self._counts_context(request)
        groups = TagGroupSerializer(tag_group_list(), many=True, context=context)
        return Response({"results": groups.data})

    def retrieve(self, request: Request, group_id: str | None = None) -> Response:
        context = self._counts_context(request)
        return Response(TagGroupSerializer(_group_or_404(group_id), context=context).data)

    def create(self, request: Request) -> Response:
        body = _valid(TagGroupCreateSerializer, request.data)
        return _add(request, group=None, group_name=body["name"], names=body["tags"])

    @action(detail=True, methods=["post"], url_path="tags", url_name="tags")
    def tags(self, request: Request, group_id: str | None = None) -> Response:
        group = _group_or_404(group_id)
        body = _valid(TagsAddSerializer, request.data)
        return _add(request, group=group, group_name="", names=body["tags"])

    def partial_update(self, request: Request, group_id: str | None = None) -> Response:
        group = _group_or_404(group_id)
        body = _valid(RenameSerializer, request.data)
        response = _rename(request, group, body["name"])
        return response or Response(TagGroupSerializer(_group_or_404(group_id)).data)

    def destroy(self, request: Request, group_id: str | None = None) -> Response:
        return _delete(request, _group_or_404(group_id))


def _add(
    request: Request, *, group: TagGroup | None, group_name: str, names: list[str]
) -> Response:
    try:
        added = tags_add(
            group=group,
            group_name=group_name,
            names=names,
            actor=request.auth,
            source=TagChange.Source.API,
        )
    except TagInputError as exc:
        raise _refused_input(exc) from None
    except WeComNotConnected:
        return not_connected()
    except WeComError as exc:
        return wecom_refusal(exc)
    group = tag_group_get(group_id=added[0].group.group_id)
    return Response(TagGroupSerializer(group).data, status=status.HTTP_201_CREATED)


def _rename(request: Request, item: Tag | TagGroup, name: str) -> Response | None:
    """None when renamed; else the error response."""
    try:
        tag_rename(item=item, name=name, actor=request.auth, source=TagChange.Source.API)
    except TagInputError as exc:
        raise _refused_input(exc) from None
    except WeComNotConnected:
        return not_connected()
    except WeComError as exc:
        return wecom_refusal(exc)
    return None


def _delete(request: Request, item: Tag | TagGroup) -> Response:
    try:
        tag_delete(item=item, actor=request.auth, source=TagChange.Source.API)
    except TagInputError as exc:
        raise _refused_input(exc) from None
    except WeComNotConnected:
        return not_connected()
    except WeComError as exc:
        return wecom_refusal(exc)
    return Response(status=status.HTTP_204_NO_CONTENT)


# --- tags -----------------------------------------------------------------------------------


@extend_schema_view(
    retrieve=extend_schema(
        summary="One tag",
        parameters=[TAG_ID],
        responses={200: TagSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Rename a tag",
        description="Renamed in WeCom first; every customer carrying it shows the new name.",
        parameters=[TAG_ID],
        request=RenameSerializer,
        responses={200: TagSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a tag",
        description="Deleted in WeCom first; every customer loses the tag.",
        parameters=[TAG_ID],
        request=None,
        responses={204: None, **WRITE_ERRORS},
    ),
)
class TagViewSet(viewsets.ViewSet):
    lookup_field = "tag_id"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def retrieve(self, request: Request, tag_id: str | None = None) -> Response:
        return Response(TagSerializer(_tag_or_404(tag_id)).data)

    def partial_update(self, request: Request, tag_id: str | None = None) -> Response:
        tag = _tag_or_404(tag_id)
        body = _valid(RenameSerializer, request.data)
        response = _rename(request, tag, body["name"])
        return response or Response(TagSerializer(_tag_or_404(tag_id)).data)

    def destroy(self, request: Request, tag_id: str | None = None) -> Response:
        return _delete(request, _tag_or_404(tag_id))


# --- a relation's tags ----------------------------------------------------------------------


class RelationTagsView(APIView):
    @extend_schema(
        summary="Mark and unmark tags on a relation (guide x customer)",
        description="WeCom tags a customer per guide. The change is pushed to WeCom first "
        "(externalcontact/mark_tag), then saved and added to the customer's timeline. "
        "Tags to add must be in the catalogue; removing a tag the relation does not carry "
        "does nothing. Answers the relation's tags after the change. Needs a read-write key.",
        parameters=[RELATION_ID],
        request=RelationTagsChangeSerializer,
        responses={200: RelationTagsSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, id: str) -> Response:
        relation = relation_list().filter(pk=parse_id(id)).first()
        if relation is None:
            raise NotFound(_("No such relation."))
        body = _valid(RelationTagsChangeSerializer, request.data)
        try:
            tag_ids = relation_tags_change(
                relation=relation, actor=request.auth, add=body["add"], remove=body["remove"]
            )
        except TagInputError as exc:
            raise _refused_input(exc) from None
        except WeComNotConnected:
            return not_connected()
        except WeComError as exc:
            return wecom_refusal(exc)
        known = tags_by_ids(tag_ids)
        return Response(
            {
                "id": relation.pk,
                "wecom_tag_ids": tag_ids,
                "tags": RelationTagSerializer(
                    [known[t] for t in tag_ids if t in known], many=True
                ).data,
            }
        )
