from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.serializers import (
    APIKeyRotatedSerializer,
    APIKeySerializer,
    AuditLogEntrySerializer,
    AuditLogListParams,
)
from accounts.models import APIKey, AuditLogEntry
from accounts.selectors import api_key_list, audit_log_list
from accounts.services import APIKeyRotationRefused, api_key_rotate
from contacts.api.filters import params_of
from contacts.api.serializers import ErrorSerializer
from contacts.api.views import ID_PARAMETER, NOT_FOUND, UNAUTHORIZED


class IsAPIKey(BasePermission):
    """Any valid key, read-only ones too (for what a key does to itself)."""

    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.auth, APIKey)


@extend_schema_view(
    list=extend_schema(
        summary="List audit log entries (newest first)",
        parameters=[AuditLogListParams],
    ),
    retrieve=extend_schema(summary="One audit log entry"),
)
class AuditLogEntryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditLogEntrySerializer

    def get_queryset(self) -> QuerySet[AuditLogEntry]:
        if self.action != "list":
            return audit_log_list()
        params = params_of(AuditLogListParams, self.request.query_params)
        return audit_log_list(action=params.get("action", ""))


@extend_schema_view(
    list=extend_schema(summary="List the tenant's API keys (never the keys themselves)"),
    retrieve=extend_schema(summary="One API key"),
)
class APIKeyViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = APIKeySerializer

    def get_queryset(self) -> QuerySet[APIKey]:
        return api_key_list()

    @extend_schema(
        summary="Rotate the calling key (zero-downtime key rotation)",
        description="Answers a new key (`key`, shown once) with the same name, scope and "
        "phone permission. The calling key keeps working until `previous_key_valid_until` "
        "(24 hours), then is refused: deploy the new key in between. A key may rotate only "
        "itself (`id` is its own id, see `GET /api-keys/`), read-only keys too; a key "
        "already rotated answers 409.",
        parameters=[ID_PARAMETER],
        request=None,
        responses={
            201: APIKeyRotatedSerializer,
            401: UNAUTHORIZED,
            403: OpenApiResponse(ErrorSerializer, description="Not the calling key."),
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="The key was already rotated."),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAPIKey],
        pagination_class=None,
    )
    def rotate(self, request: Request, pk: str | None = None) -> Response:
        api_key = self.get_object()
        if api_key.pk != request.auth.pk:
            return Response(
                {"detail": _("A key may rotate only itself.")}, status=status.HTTP_403_FORBIDDEN
            )
        try:
            replacement, raw_key = api_key_rotate(
                api_key=api_key, actor=request.auth, request=request._request
            )
        except APIKeyRotationRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        data = {
            "key": raw_key,
            "api_key": replacement,
            "previous_key_valid_until": api_key.revoked_at,
        }
        return Response(APIKeyRotatedSerializer(data).data, status=status.HTTP_201_CREATED)
