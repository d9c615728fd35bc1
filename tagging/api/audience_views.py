"""The segments, auto-tag rules and bulk tagging jobs REST API.

Views parse input (tagging.api.audience_serializers), read through tagging.audience_selectors
and write through tagging.segments, tagging.rules and tagging.bulk. What a service refuses
answers 400 with its message under the field it concerns (`definition`, `name`) or under
`non_field_errors`; nothing was saved then. Jobs run in the background: create answers 202
and the job's progress is polled at /bulk-tag-jobs/{id}/.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import APIKey
from contacts.api.filters import params_of, parse_id
from contacts.api.serializers import CustomerSerializer, ErrorSerializer
from contacts.api.views import (
    DETAIL_ERRORS,
    ID_PARAMETER,
    LIST_ERRORS,
    UNAUTHORIZED,
    ContactsViewSet,
    field_errors_response,
    write_errors,
)
from contacts.selectors import CustomerFilters, customer_list
from scrm.api.pagination import IdCursorPagination
from scrm.api.parsers import NulRefusingJSONParser
from tagging.api.audience_serializers import (
    BulkTagJobCreateSerializer,
    BulkTagJobSerializer,
    BulkTagRowListParams,
    BulkTagRowSerializer,
    SegmentCountSerializer,
    SegmentPreviewSerializer,
    SegmentSerializer,
    SegmentWriteSerializer,
    TagRuleSerializer,
    TagRuleWriteSerializer,
)
from tagging.audience_selectors import (
    bulk_job_get,
    bulk_job_list,
    bulk_jobs_progress,
    bulk_row_list,
    rule_get,
    rule_list,
    segment_get,
)
from tagging.bulk import (
    MAX_CSV_BYTES,
    BulkInputError,
    bulk_job_cancel,
    bulk_job_from_csv,
    bulk_job_from_rule,
    bulk_job_from_segment,
)
from tagging.models import AutoTagRule, BulkTagJob, Segment
from tagging.rules import rule_delete, rule_save
from tagging.segments import (
    SegmentError,
    segment_clean,
    segment_count,
    segment_delete,
    segment_save,
)
from tagging.services import TagInputError

REFUSED = field_errors_response(
    example={"definition": ["rules[1]: unknown tags: etGONE"]},
    description="A bad field, or input the service refuses (an unknown tag, guide or segment, "
    "a definition that cannot be evaluated, an unreadable CSV): the message names where and "
    "why; nothing was saved.",
)
WRITE_ERRORS = write_errors(REFUSED)


class AnyAPIKey(BasePermission):
    """Any key, read-only ones included: for POSTs that only read (a segment preview)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, APIKey)


def _body(serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
    body = serializer_class(data=data, partial=partial)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _refused(field: str, exc: Exception) -> ValidationError:
    return ValidationError({field: [str(exc)]})


def _clean_definition(definition: Any) -> dict[str, Any]:
    try:
        return segment_clean(definition)
    except SegmentError as exc:
        raise _refused("definition", exc) from None


# --- segments ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List saved segments (newest first)",
        responses={200: SegmentSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One segment",
        parameters=[ID_PARAMETER],
        responses={200: SegmentSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Save a segment",
        description="The definition is checked (every tag, guide, store and channel must "
        "exist) and counted; `last_count` is the count at saving. Needs a read-write key.",
        request=SegmentWriteSerializer,
        responses={201: SegmentSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a segment's name, description or definition",
        description="Send any of the three; the segment is counted again. Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=SegmentWriteSerializer,
        responses={200: SegmentSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a segment",
        description="Only the definition: bulk jobs run for it keep their results.",
        parameters=[ID_PARAMETER],
        responses={204: None, **WRITE_ERRORS},
    ),
)
class SegmentViewSet(ContactsViewSet):
    serializer_class = SegmentSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def list(self, request: Request) -> Response:
        return self.paginated(Segment.objects.order_by("-id"))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self.ok(self._segment(pk))

    def create(self, request: Request) -> Response:
        body = _body(SegmentWriteSerializer, request.data)
        return Response(self._save(None, body).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        segment = self._segment(pk)
        body = _body(SegmentWriteSerializer, request.data, partial=True)
        merged = {
            "name": segment.name,
            "description": segment.description,
            "definition": segment.definition,
            **body,
        }
        return Response(self._save(segment, merged).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        segment_delete(segment=self._segment(pk), actor=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Count the customers a definition selects, without saving it",
        description="For a live count while an audience is being built. Any key may call "
        'it (it reads only). Answers `{"count"}`, or 400 with `{"definition": [why]}`.',
        request=SegmentPreviewSerializer,
        responses={200: SegmentCountSerializer, 400: REFUSED, 401: UNAUTHORIZED},
    )
    @action(
        detail=False,
        methods=["post"],
        permission_classes=[AnyAPIKey],
        pagination_class=None,
    )
    def preview(self, request: Request) -> Response:
        body = _body(SegmentPreviewSerializer, request.data)
        definition = _clean_definition(body["definition"])
        return Response({"count": segment_count(definition)})

    @extend_schema(
        summary="The segment's customers (newest add first)",
        description="Evaluated now, keyset-paginated like `/customers/`, each customer with "
        "every guide relation.",
        parameters=[ID_PARAMETER],
        responses={
            200: CustomerSerializer(many=True),
            **DETAIL_ERRORS,
            409: OpenApiResponse(
                ErrorSerializer, description="The saved definition no longer holds: edit it."
            ),
        },
    )
    @action(detail=True, methods=["get"], serializer_class=CustomerSerializer)
    def customers(self, request: Request, pk: str | None = None) -> Response:
        segment = self._segment(pk)
        try:
            return self.paginated(customer_list(CustomerFilters(segment_id=segment.pk)))
        except SegmentError as exc:
            return Response(
                {
                    "detail": _("This segment's definition no longer holds (%(reason)s): edit it.")
                    % {"reason": exc}
                },
                status=status.HTTP_409_CONFLICT,
            )

    def _segment(self, pk: str | None) -> Segment:
        try:
            return segment_get(segment_id=parse_id(pk))
        except Segment.DoesNotExist:
            raise NotFound(_("No such segment.")) from None

    def _save(self, segment: Segment | None, body: dict[str, Any]) -> SegmentSerializer:
        definition = _clean_definition(body["definition"])
        try:
            saved = segment_save(
                segment=segment,
                actor=self.request.auth,
                name=body["name"],
                definition=definition,
                description=body.get("description") or "",
            )
        except SegmentError as exc:
            # the definition passed: what is left is the name (empty, too long or taken)
            raise _refused("name", exc) from None
        return SegmentSerializer(saved, context=self.get_serializer_context())


# --- auto-tag rules --------------------------------------------------------------------------


def _rule_arguments(body: dict[str, Any], rule: AutoTagRule | None) -> dict[str, Any]:
    """rule_save's arguments: the body's fields, the rule's current values for the rest."""
    current: dict[str, Any] = {}
    if rule is not None:
        current = {
            "name": rule.name,
            "is_active": rule.is_active,
            "tag_ids": list(rule.tag_ids),
            "channel_ids": [c.pk for c in rule.channels.all()],
            "add_ways": list(rule.add_ways),
            "guide_ids": [g.pk for g in rule.guides.all()],
            "store_ids": [s.pk for s in rule.stores.all()],
            "valid_from": rule.valid_from,
            "valid_until": rule.valid_until,
            "weekdays": list(rule.weekdays),
            "hour_from": rule.hour_from,
            "hour_until": rule.hour_until,
        }
    return {**current, **body}


@extend_schema_view(
    list=extend_schema(
        summary="List auto-tag rules",
        responses={200: TagRuleSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One auto-tag rule",
        parameters=[ID_PARAMETER],
        responses={200: TagRuleSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Create an auto-tag rule",
        description="A new relation (a guide adds a customer) meeting every condition set is "
        "tagged with `tag_ids`, in WeCom. Within a condition any value matches; an empty "
        "condition does not restrict. Needs a read-write key.",
        request=TagRuleWriteSerializer,
        responses={201: TagRuleSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change an auto-tag rule",
        description="Fields sent replace the rule's; the others stay. Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=TagRuleWriteSerializer,
        responses={200: TagRuleSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete an auto-tag rule",
        description="Tags it already applied stay.",
        parameters=[ID_PARAMETER],
        responses={204: None, **WRITE_ERRORS},
    ),
)
class TagRuleViewSet(ContactsViewSet):
    serializer_class = TagRuleSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def list(self, request: Request) -> Response:
        return self.paginated(rule_list().order_by("-id"))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self.ok(self._rule(pk))

    def create(self, request: Request) -> Response:
        body = _body(TagRuleWriteSerializer, request.data)
        rule = self._save(None, body)
        return Response(self._shaped(rule), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        rule = self._rule(pk)
        body = _body(TagRuleWriteSerializer, request.data, partial=True)
        return Response(self._shaped(self._save(rule, body)))

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        rule_delete(rule=self._rule(pk), actor=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Apply the rule to existing customers (a bulk tagging job)",
        description="Every active relation the rule matches now gets its tags; answers 202 "
        "with the job, whose progress is at `/bulk-tag-jobs/{id}/`. Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=None,
        responses={202: BulkTagJobSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def apply(self, request: Request, pk: str | None = None) -> Response:
        rule = self._rule(pk)
        try:
            job = bulk_job_from_rule(rule=rule, actor=request.auth)
        except BulkInputError as exc:
            raise _refused("non_field_errors", exc) from None
        return _job_response(job, status.HTTP_202_ACCEPTED)

    def _rule(self, pk: str | None) -> AutoTagRule:
        try:
            return rule_get(rule_id=parse_id(pk))
        except AutoTagRule.DoesNotExist:
            raise NotFound(_("No such rule.")) from None

    def _save(self, rule: AutoTagRule | None, body: dict[str, Any]) -> AutoTagRule:
        try:
            saved = rule_save(rule=rule, actor=self.request.auth, **_rule_arguments(body, rule))
        except TagInputError as exc:
            raise _refused("non_field_errors", exc) from None
        return rule_get(rule_id=saved.pk)

    def _shaped(self, rule: AutoTagRule) -> Any:
        return TagRuleSerializer(rule, context=self.get_serializer_context()).data


# --- bulk tagging jobs -----------------------------------------------------------------------


def _job_response(job: BulkTagJob, code: int = status.HTTP_200_OK) -> Response:
    job = bulk_job_get(job_id=job.pk)
    data = BulkTagJobSerializer(job, context={"progress": bulk_jobs_progress([job.pk])}).data
    return Response(data, status=code)


class RowPagination(IdCursorPagination):
    """A job's rows in the order they were planned (CSV lines in file order)."""

    ordering = "id"


@extend_schema_view(
    list=extend_schema(
        summary="List bulk tagging jobs (newest first), with their progress",
        responses={200: BulkTagJobSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One job and its progress",
        description="Poll this while `status` is `running`.",
        parameters=[ID_PARAMETER],
        responses={200: BulkTagJobSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Start a bulk tagging job",
        description="From a segment (JSON `{segment, action, tag_ids}`), from a rule applied "
        "retroactively (JSON `{rule}`), or from a CSV file (multipart: `file`, `action`, "
        "`tag_ids` repeated). The job is planned at once (one row per relation, one per "
        "unusable CSV line with its reason) and worked in the background; answers 202. "
        "Needs a read-write key.",
        request={
            "application/json": BulkTagJobCreateSerializer,
            "multipart/form-data": BulkTagJobCreateSerializer,
        },
        responses={202: BulkTagJobSerializer, **WRITE_ERRORS},
    ),
)
class BulkTagJobViewSet(ContactsViewSet):
    serializer_class = BulkTagJobSerializer
    http_method_names = ["get", "post", "head", "options"]
    parser_classes = [NulRefusingJSONParser, MultiPartParser, FormParser]

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(bulk_job_list())
        progress = bulk_jobs_progress(job.pk for job in page or [])
        data = BulkTagJobSerializer(page, many=True, context={"progress": progress}).data
        return self.get_paginated_response(data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return _job_response(self._job(pk))

    def create(self, request: Request) -> Response:
        body = _body(BulkTagJobCreateSerializer, request.data)
        try:
            job = self._start(body)
        except (BulkInputError, SegmentError) as exc:
            raise _refused("non_field_errors", exc) from None
        return _job_response(job, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="The job's rows: one per relation, one per unusable CSV line",
        description="In planning order (CSV lines in file order), cursor-paginated; "
        "`?status=` narrows to some results (repeat it).",
        parameters=[ID_PARAMETER, BulkTagRowListParams],
        responses={200: BulkTagRowSerializer(many=True), **DETAIL_ERRORS},
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=BulkTagRowSerializer,
        pagination_class=RowPagination,
    )
    def rows(self, request: Request, pk: str | None = None) -> Response:
        job = self._job(pk)
        params = params_of(BulkTagRowListParams, request.query_params)
        rows = bulk_row_list(job=job, statuses=params.get("status") or ())
        return self.paginated(rows)

    @extend_schema(
        summary="Cancel a running job",
        description="Rows not reached stay `pending`. Answers the job; 400 if it is not "
        "running. Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=None,
        responses={200: BulkTagJobSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = self._job(pk)
        if not bulk_job_cancel(job=job, actor=request.auth):
            raise ValidationError({"non_field_errors": [_("The job is not running.")]})
        return _job_response(job)

    def _job(self, pk: str | None) -> BulkTagJob:
        try:
            return bulk_job_get(job_id=parse_id(pk))
        except BulkTagJob.DoesNotExist:
            raise NotFound(_("No such bulk tagging job.")) from None

    def _start(self, body: dict[str, Any]) -> BulkTagJob:
        actor = self.request.auth
        if body.get("rule") is not None:
            rule = AutoTagRule.objects.filter(pk=body["rule"]).first()
            if rule is None:
                raise ValidationError({"rule": [_("No such rule.")]})
            return bulk_job_from_rule(rule=rule, actor=actor)
        if body.get("segment") is not None:
            segment = Segment.objects.filter(pk=body["segment"]).first()
            if segment is None:
                raise ValidationError({"segment": [_("No such segment.")]})
            return bulk_job_from_segment(
                segment=segment, action=body["action"], tag_ids=body["tag_ids"], actor=actor
            )
        upload = body["file"]
        return bulk_job_from_csv(
            data=upload.read(MAX_CSV_BYTES + 1),
            file_name=upload.name or "upload.csv",
            action=body["action"],
            tag_ids=body["tag_ids"],
            actor=actor,
        )
