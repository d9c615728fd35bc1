"""The project's OpenAPI schema class.

drf-spectacular documents a `list` action's response as an array of its serializer. A few
lists answer an object instead (`{"results": [...]}` without pagination, or a report with
its dates); their response serializers subclass `Envelope` to be documented as they are.
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers


class Envelope(serializers.Serializer):
    """A response serializer a `list` action answers as one object, not an array of it."""


def _is_envelope(serializer: Any) -> bool:
    if isinstance(serializer, type):
        return issubclass(serializer, Envelope)
    return isinstance(serializer, Envelope)


class AutoSchema(SpectacularAutoSchema):
    def _is_list_view(self, serializer: Any = None) -> bool:
        main = self.get_response_serializers() if serializer is None else serializer
        if isinstance(main, dict) and main:
            main = {str(code): s for code, s in main.items()}
            main = main[min(main)]
        if _is_envelope(main):
            return False
        return bool(super()._is_list_view(serializer))

    def get_operation_id(self) -> str:
        # an envelope list is still the list operation (not `_retrieve`, the detail's id)
        operation_id = str(super().get_operation_id())
        if getattr(self.view, "action", None) == "list" and operation_id.endswith("_retrieve"):
            operation_id = operation_id.removesuffix("_retrieve") + "_list"
        return operation_id
