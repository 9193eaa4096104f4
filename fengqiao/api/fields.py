"""Serializer fields and documentation-only serializers shared by the API modules."""

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

# Related fields render as a text box in the browsable API: the area tree has tens of thousands of nodes, and
# a <select> of all users would leak the account list.
TEXT_INPUT = {"base_template": "input.html"}


class CodeField(serializers.SlugRelatedField):
    """A related object named by its code (areas, categories, grid layers, space types)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "code")
        kwargs.setdefault("style", TEXT_INPUT)
        super().__init__(**kwargs)


class IdField(serializers.PrimaryKeyRelatedField):
    def __init__(self, **kwargs):
        kwargs.setdefault("style", TEXT_INPUT)
        super().__init__(**kwargs)


class MaskedCharField(serializers.CharField):
    """Plain text in, masked text out (personal data: the API never returns the plaintext)."""

    def __init__(self, *, mask, **kwargs):
        self.mask = mask
        super().__init__(**kwargs)

    def to_representation(self, value):
        return self.mask(str(value)) if value else ""


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "number", "format": "double"},
        "minItems": 4,
        "maxItems": 4,
        "nullable": True,
        "description": "[min lon, min lat, max lon, max lat] (WGS84)",
    }
)
class BBoxField(serializers.Field):
    def __init__(self, **kwargs):
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, obj):
        if obj.min_lon is None:
            return None
        return [obj.min_lon, obj.min_lat, obj.max_lon, obj.max_lat]


@extend_schema_field({"type": "string", "pattern": "^Feature$", "example": "Feature"})
class FeatureTypeField(serializers.CharField):
    pass


@extend_schema_field({"type": "string", "pattern": "^FeatureCollection$", "example": "FeatureCollection"})
class FeatureCollectionTypeField(serializers.CharField):
    pass


GEOMETRY_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "GeoJSON geometry (Polygon or MultiPolygon, WGS84 lon/lat)",
    "properties": {
        "type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
        "coordinates": {"type": "array", "items": {}},
    },
    "required": ["type", "coordinates"],
}


def feature_serializer(name, properties_serializer):
    """A documentation serializer for a GeoJSON Feature whose properties follow `properties_serializer`."""

    @extend_schema_field(GEOMETRY_SCHEMA)
    class GeometryField(serializers.JSONField):
        pass

    attrs = {
        "type": FeatureTypeField(),
        "id": serializers.CharField(),
        "geometry": GeometryField(allow_null=True),
        "bbox": BBoxField(),
        "properties": properties_serializer(),
    }
    return type(name, (serializers.Serializer,), attrs)


def feature_collection_serializer(name, feature):
    """A documentation serializer for a paginated FeatureCollection (`count`/`next`/`previous` are GeoJSON
    foreign members)."""
    attrs = {
        "type": FeatureCollectionTypeField(),
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "features": feature(many=True),
    }
    # many=False: a collection is one object even when it answers a list operation
    return extend_schema_serializer(many=False)(type(name, (serializers.Serializer,), attrs))
