"""The lifecycle REST API: customers per stage per day, and a stage's customers."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from channels_qr.selectors import StatsRangeError, stats_range
from contacts.api.filters import params_of
from contacts.api.views import LIST_ERRORS, ContactsViewSet
from lifecycle.api.serializers import (
    CustomerStageParams,
    CustomerStageSerializer,
    StageCountParams,
    StageCountsSerializer,
)
from lifecycle.selectors import stage_customers, stage_series


class StageCountViewSet(viewsets.GenericViewSet):
    serializer_class = StageCountsSerializer
    pagination_class = None

    @extend_schema(
        summary="Customers per lifecycle stage per day",
        description="The count of each stage at the day's last recomputation (hourly). "
        "Days before the first recomputation, or missed, are null.",
        parameters=[StageCountParams],
        responses={200: StageCountsSerializer, **LIST_ERRORS},
    )
    def list(self, request: Request) -> Response:
        params = params_of(StageCountParams, request.query_params)
        try:
            start, end = stats_range(params.get("from"), params.get("to"))
        except StatsRangeError as exc:
            raise ValidationError({"from": [str(exc)]}) from None
        series = stage_series(start=start, end=end)
        rows: list[dict[str, Any]] = [
            {"day": day, **{stage: counts[n] for stage, counts in series.counts.items()}}
            for n, day in enumerate(series.days)
        ]
        answer = {"start": start, "end": end, "results": rows}
        return Response(StageCountsSerializer(answer).data)


class CustomerStageViewSet(ContactsViewSet):
    serializer_class = CustomerStageSerializer

    @extend_schema(
        summary="The customers in a lifecycle stage",
        description="Who entered the stage most recently first (keyset-paginated).",
        parameters=[CustomerStageParams],
        responses={200: CustomerStageSerializer(many=True), **LIST_ERRORS},
    )
    def list(self, request: Request) -> Response:
        params = params_of(CustomerStageParams, request.query_params)
        return self.paginated(stage_customers(stage=params["stage"]))
