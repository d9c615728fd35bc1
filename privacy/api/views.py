"""The privacy REST API: a customer's data as one JSON document, and its erasure.

Both need a read-write key: an export is everything about a person at once, as sensitive
as an erasure. Phone numbers in the export follow the key's `sees_phones` like every other
answer of the API. The erasure asks for the customer's external_userid in the body, so a
wrong id in the URL never erases someone else.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import APIKey
from contacts.api.filters import parse_id
from contacts.api.serializers import ErrorSerializer
from contacts.api.views import (
    BAD_REQUEST,
    ID_PARAMETER,
    NOT_FOUND,
    UNAUTHORIZED,
    ContactsViewSet,
    sees_phones,
)
from contacts.models import Customer
from privacy.api.serializers import (
    CustomerExportSerializer,
    ErasedSerializer,
    EraseRequestSerializer,
)
from privacy.erasure import is_erased_id
from privacy.services import AlreadyErased, customer_erase, customer_export_record

READ_WRITE_ONLY = OpenApiResponse(
    ErrorSerializer, description="A read-only key: exports and erasures need a read-write key."
)


class ReadWriteKey(BasePermission):
    message = _("Exporting or erasing a customer's data needs a read-write key.")

    def has_permission(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        return isinstance(api_key, APIKey) and api_key.scope == APIKey.Scope.READ_WRITE


class CustomerPrivacyViewSet(ContactsViewSet):
    permission_classes = [ReadWriteKey]
    pagination_class = None

    def _customer(self, pk: str | None) -> Customer:
        customer = Customer.objects.filter(pk=parse_id(pk)).first()
        if customer is None:
            raise NotFound(_("No such customer."))
        return customer

    @extend_schema(
        summary="Everything held about a customer (个人信息导出)",
        description="One JSON document: the customer, relations, timeline, notes and "
        "follow-ups, orders and custom events, group sends, handovers, group chats, welcome "
        "messages, webhook events and WeCom callbacks about them. Needs a read-write key; "
        "phone numbers are masked unless the key may read them. Audit-logged.",
        parameters=[ID_PARAMETER],
        responses={
            200: CustomerExportSerializer,
            400: BAD_REQUEST,
            401: UNAUTHORIZED,
            403: READ_WRITE_ONLY,
            404: NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str | None = None) -> Response:
        customer = self._customer(pk)
        document = customer_export_record(
            customer=customer, actor=request.auth, full_phones=sees_phones(request)
        )
        return Response(document, headers={"Cache-Control": "no-store"})

    @extend_schema(
        summary="Erase a customer's personal information (删除个人信息)",
        description="Removes name, ids, remarks, phones, notes and the other personal fields "
        "everywhere, keeping the anonymised rows that counts include (docs/privacy.md). The "
        "body repeats the customer's external_userid. Needs a read-write key. Cannot be "
        "undone; the guides must also delete the customer in WeCom.",
        parameters=[ID_PARAMETER],
        request=EraseRequestSerializer,
        responses={
            200: ErasedSerializer,
            400: BAD_REQUEST,
            401: UNAUTHORIZED,
            403: READ_WRITE_ONLY,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="Already erased."),
        },
    )
    @action(detail=True, methods=["post"])
    def erase(self, request: Request, pk: str | None = None) -> Response:
        customer = self._customer(pk)
        if is_erased_id(customer.external_userid):
            return _already_erased()
        body = EraseRequestSerializer(data=request.data, expected=customer.external_userid)
        body.is_valid(raise_exception=True)
        try:
            result = customer_erase(customer=customer, actor=request.auth)
        except AlreadyErased:
            return _already_erased()
        return Response(
            {
                "id": customer.pk,
                "external_userid": customer.external_userid,
                "erased": True,
                "rows": result.rows,
            }
        )


def _already_erased() -> Response:
    return Response(
        {"detail": _("This customer's personal information was already erased.")},
        status=status.HTTP_409_CONFLICT,
    )
