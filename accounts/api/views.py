from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets

from accounts.api.serializers import APIKeySerializer, AuditLogEntrySerializer
from accounts.models import APIKey, AuditLogEntry
from accounts.selectors import api_key_list, audit_log_list


@extend_schema_view(
    list=extend_schema(
        summary="List audit log entries (newest first)",
        parameters=[OpenApiParameter("action", str, description="Only this action code")],
    ),
    retrieve=extend_schema(summary="One audit log entry"),
)
class AuditLogEntryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditLogEntrySerializer

    def get_queryset(self) -> QuerySet[AuditLogEntry]:
        return audit_log_list(action=self.request.query_params.get("action", ""))


@extend_schema_view(
    list=extend_schema(summary="List the tenant's API keys (never the keys themselves)"),
    retrieve=extend_schema(summary="One API key"),
)
class APIKeyViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = APIKeySerializer

    def get_queryset(self) -> QuerySet[APIKey]:
        return api_key_list()
