"""The webhooks REST API: endpoints (create with the secret answered once, read, change,
enable again, rotate the secret, send a test event, delete) and the delivery log (filter,
read every attempt, redeliver).

Views parse input (webhooks.api.serializers), read through webhooks.selectors and write
through webhooks.services. What a service refuses (a private or malformed URL, an unknown
event type) answers 400 under the field concerned; nothing was saved then. Deliveries run in
the background: a test or a redelivery answers 202 with the new delivery, polled at
/webhooks/deliveries/{id}/.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
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
from webhooks.api.serializers import (
    WebhookDeliveryDetailSerializer,
    WebhookDeliveryListParams,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWriteSerializer,
    WebhookRotateSerializer,
    WebhookSecretSerializer,
)
from webhooks.models import Delivery, Endpoint
from webhooks.selectors import (
    delivery_get,
    delivery_list,
    endpoint_get,
    endpoint_list,
    parse_event_id,
)
from webhooks.services import (
    WebhookInputError,
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_secret_rotate,
    endpoint_test,
    endpoint_update,
)

REFUSED = field_errors_response(
    example={
        "url": [
            "The host resolves to 10.0.0.8, an address on a private, local or reserved "
            "network: webhooks only go to public addresses."
        ]
    },
    description="A bad field, or one the service refuses (a URL that is not http(s), on a "
    "private network or unresolvable; an unknown event type): nothing was saved.",
)
WRITE_ERRORS = write_errors(REFUSED)


def _body(serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
    body = serializer_class(data=data, partial=partial)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _refused(exc: WebhookInputError) -> ValidationError:
    return ValidationError({exc.field: [str(exc)]})


@extend_schema_view(
    list=extend_schema(
        summary="List webhook endpoints (newest first)",
        description="Secrets are never listed.",
        responses={200: WebhookEndpointSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One webhook endpoint",
        parameters=[ID_PARAMETER],
        responses={200: WebhookEndpointSerializer, **DETAIL_ERRORS},
    ),
    create=extend_schema(
        summary="Create a webhook endpoint",
        description="Events of the chosen types are POSTed to `url`, signed with the "
        "endpoint's secret (`X-SCRM-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "
        '"<t>.<body>">`). The secret is answered here once. Needs a read-write key.',
        request=WebhookEndpointWriteSerializer,
        responses={201: WebhookEndpointCreatedSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint, or enable it again",
        description="Send any of `url`, `description`, `event_types`, `enabled`. "
        "`enabled: true` after an automatic disabling forgets its failures. Needs a "
        "read-write key.",
        parameters=[ID_PARAMETER],
        request=WebhookEndpointWriteSerializer,
        responses={200: WebhookEndpointSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a webhook endpoint and its delivery log",
        parameters=[ID_PARAMETER],
        responses={204: None, **WRITE_ERRORS},
    ),
)
class WebhookEndpointViewSet(ContactsViewSet):
    serializer_class = WebhookEndpointSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def list(self, request: Request) -> Response:
        return self.paginated(endpoint_list())

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self.ok(self._endpoint(pk))

    def create(self, request: Request) -> Response:
        body = _body(WebhookEndpointWriteSerializer, request.data)
        try:
            endpoint, secret = endpoint_create(
                url=body["url"],
                event_types=body["event_types"],
                description=body.get("description", ""),
                secret=body.get("secret"),
                actor=request.auth,
                request=request._request,
            )
        except WebhookInputError as exc:
            raise _refused(exc) from None
        data = WebhookEndpointCreatedSerializer(endpoint, context={"secret": secret}).data
        return Response(data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self._endpoint(pk)
        body = _body(WebhookEndpointWriteSerializer, request.data, partial=True)
        if "secret" in body:
            raise ValidationError({"secret": [_("Rotate the secret instead.")]})
        try:
            endpoint = endpoint_update(
                endpoint=endpoint,
                url=body.get("url"),
                event_types=body.get("event_types"),
                description=body.get("description") if "description" in request.data else None,
                enabled=body.get("enabled"),
                actor=request.auth,
                request=request._request,
            )
        except WebhookInputError as exc:
            raise _refused(exc) from None
        return self.ok(endpoint)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        endpoint_delete(endpoint=self._endpoint(pk), actor=request.auth, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Rotate an endpoint's signing secret",
        description="Answers the new secret (once). By default requests are signed with the "
        "old secret too for 24 hours (two `v1=` values), so receivers can switch over. "
        "Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=WebhookRotateSerializer,
        responses={200: WebhookSecretSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret", pagination_class=None)
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self._endpoint(pk)
        body = _body(WebhookRotateSerializer, request.data)
        secret = endpoint_secret_rotate(
            endpoint=endpoint,
            keep_previous=body["keep_previous"],
            actor=request.auth,
            request=request._request,
        )
        endpoint.refresh_from_db(fields=["previous_secret_until"])
        return Response(
            WebhookSecretSerializer(
                {
                    "secret": secret,
                    "previous_secret_valid_until": endpoint.previous_secret_until,
                }
            ).data
        )

    @extend_schema(
        summary="Send a test event to an endpoint",
        description="A `webhook.test` event, signed and retried like any event, to this "
        "endpoint only (a disabled one too). Answers 202 with the delivery; poll it for "
        "the result. Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=None,
        responses={202: WebhookDeliverySerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def ping(self, request: Request, pk: str | None = None) -> Response:
        delivery = endpoint_test(
            endpoint=self._endpoint(pk), actor=request.auth, request=request._request
        )
        data = WebhookDeliverySerializer(delivery_get(delivery_id=delivery.pk)).data
        return Response(data, status=status.HTTP_202_ACCEPTED)

    def _endpoint(self, pk: Any) -> Endpoint:
        try:
            return endpoint_get(endpoint_id=parse_id(pk))
        except Endpoint.DoesNotExist:
            raise NotFound(_("No such webhook endpoint.")) from None


@extend_schema_view(
    list=extend_schema(
        summary="List webhook deliveries (newest first)",
        description="One delivery per event and endpoint, plus tests and redeliveries; "
        "filter by endpoint, status, event type or event id.",
        parameters=[WebhookDeliveryListParams],
        responses={200: WebhookDeliverySerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One delivery, with the event's data and every attempt",
        parameters=[ID_PARAMETER],
        responses={200: WebhookDeliveryDetailSerializer, **DETAIL_ERRORS},
    ),
)
class WebhookDeliveryViewSet(ContactsViewSet):
    serializer_class = WebhookDeliverySerializer
    http_method_names = ["get", "post", "head", "options"]

    def list(self, request: Request) -> Response:
        params = params_of(WebhookDeliveryListParams, request.query_params)
        event_id = None
        if params.get("event_id"):
            event_id = parse_event_id(params["event_id"])
            if event_id is None:
                raise ValidationError(
                    {"event_id": [_("An event id looks like evt_ and 32 hex digits.")]}
                )
        deliveries = delivery_list(
            endpoint_id=params.get("endpoint"),
            statuses=params.get("status") or (),
            event_type=params.get("event_type") or "",
            event_id=event_id,
        )
        return self.paginated(deliveries)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self.ok(self._delivery(pk), WebhookDeliveryDetailSerializer)

    @extend_schema(
        summary="Redeliver: the same event to the same endpoint, as a new delivery",
        description="Same event id and body (receivers that already have it deduplicate), "
        "sent even if the endpoint is disabled; the original delivery stays as it was. "
        "Answers 202 with the new delivery. Needs a read-write key.",
        parameters=[ID_PARAMETER],
        request=None,
        responses={202: WebhookDeliverySerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def redeliver(self, request: Request, pk: str | None = None) -> Response:
        again = delivery_redeliver(
            delivery=self._delivery(pk), actor=request.auth, request=request._request
        )
        data = WebhookDeliverySerializer(delivery_get(delivery_id=again.pk)).data
        return Response(data, status=status.HTTP_202_ACCEPTED)

    def _delivery(self, pk: Any) -> Delivery:
        try:
            return delivery_get(delivery_id=parse_id(pk))
        except Delivery.DoesNotExist:
            raise NotFound(_("No such webhook delivery.")) from None
