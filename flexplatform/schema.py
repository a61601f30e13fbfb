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
