"""OpenAPI schema generation: nested ``InputSerializer``/``OutputSerializer`` classes (one per API view, as
STYLE.md asks) get component names from their view, e.g. ``OfferListCreateApiInput``, so they never collide."""

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema


class AutoSchema(BaseAutoSchema):
    def get_serializer_name(self, serializer, direction):
        name = super().get_serializer_name(serializer, direction)
        qualname = type(serializer).__qualname__
        if "." in qualname and getattr(getattr(serializer, "Meta", None), "ref_name", None) is None:
            outer = qualname.rsplit(".", 1)[0].replace(".", "")
            return f"{outer}{name}"
        return name

    def get_operation_id(self) -> str:
        """A paginated list (``flexplatform.api.list_schema``) keeps the ``_list`` operation id of a list."""
        operation_id = super().get_operation_id()
        if self.method == "GET" and getattr(self.get_response_serializers(), "paginated_list", False):
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id

    def get_response_serializers(self):
        """A plain APIView without a serializer (and without ``@extend_schema(responses=...)``) returns a JSON
        object; say so instead of guessing."""
        from drf_spectacular.types import OpenApiTypes

        if not hasattr(self.view, "get_serializer"):
            return OpenApiTypes.OBJECT
        return super().get_response_serializers()

    def get_request_serializer(self):
        from drf_spectacular.types import OpenApiTypes

        if not hasattr(self.view, "get_serializer"):
            return OpenApiTypes.OBJECT if self.method in ("POST", "PUT", "PATCH") else None
        return super().get_request_serializer()
