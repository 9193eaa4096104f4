"""Read-only API of the area tree, its history and boundaries, grid layers and grids (GeoJSON on request).

Grid and area writes have their own services and importers; they are not exposed here.
"""

import shapely
from django.http import Http404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from fengqiao.api.base import READ, GeoJSONRenderer, ReadOnlyViewSet
from fengqiao.api.fields import (
    BBoxField,
    CodeField,
    feature_collection_serializer,
    feature_serializer,
)
from fengqiao.api.filters import AreaCodeFilter, CodeFilter, CurrentFilterSet, WithinFilter
from fengqiao.areas.codes import Level
from fengqiao.areas.models import Area, AreaChange, Boundary, Grid, GridLayer

# --- serializers -----------------------------------------------------------------------------------------


class AreaSerializer(serializers.ModelSerializer):
    level_name = serializers.CharField(source="get_level_display", read_only=True)
    parent = serializers.SerializerMethodField()
    is_current = serializers.BooleanField(read_only=True)

    class Meta:
        model = Area
        fields = [
            "code",
            "name",
            "short_name",
            "level",
            "level_name",
            "parent",
            "path",
            "urban_rural_code",
            "valid_from",
            "valid_to",
            "edition",
            "is_current",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="division code of the parent"))
    def get_parent(self, obj):
        codes = obj.ancestor_codes()
        return codes[-2] if len(codes) > 1 else None


class AreaChangeSerializer(serializers.ModelSerializer):
    area = CodeField(read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)

    class Meta:
        model = AreaChange
        fields = ["id", "area", "area_name", "edition", "kind", "before", "after", "recorded_at"]


class BoundaryPropertiesSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="area.code")
    name = serializers.CharField(source="area.name")
    level = serializers.IntegerField(source="area.level")

    class Meta:
        model = Boundary
        fields = [
            "code",
            "name",
            "level",
            "version",
            "source",
            "source_crs",
            "repaired",
            "synthetic",
            "valid_from",
            "valid_to",
            "area_m2",
        ]


BoundaryFeatureSerializer = feature_serializer("BoundaryFeatureSerializer", BoundaryPropertiesSerializer)


class GridLayerSerializer(serializers.ModelSerializer):
    class Meta:
        model = GridLayer
        fields = ["code", "name", "description", "full_coverage", "order"]


class GridSerializer(serializers.ModelSerializer):
    layer = CodeField(read_only=True)
    area = CodeField(read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)
    bbox = BBoxField()

    class Meta:
        model = Grid
        fields = [
            "id",
            "layer",
            "code",
            "name",
            "kind",
            "dedicated_type",
            "area",
            "area_name",
            "households",
            "population",
            "synthetic",
            "area_m2",
            "bbox",
            "valid_to",
            "updated_at",
        ]


GridFeatureSerializer = feature_serializer("GridFeatureSerializer", GridSerializer)
GridFeatureCollectionSerializer = feature_collection_serializer(
    "GridFeatureCollectionSerializer", GridFeatureSerializer
)


def feature(obj, properties):
    geom = obj.geometry
    return {
        "type": "Feature",
        "id": str(obj.pk),
        "geometry": shapely.geometry.mapping(geom) if geom is not None else None,
        "bbox": None if obj.min_lon is None else [obj.min_lon, obj.min_lat, obj.max_lon, obj.max_lat],
        "properties": properties,
    }


# --- filters ---------------------------------------------------------------------------------------------


class AreaFilter(CurrentFilterSet):
    level = filters.TypedMultipleChoiceFilter(choices=Level.choices, coerce=int)
    parent = AreaCodeFilter(field_name="parent", help_text="division code of the parent area")
    within = WithinFilter(path_field="path")
    name = filters.CharFilter(lookup_expr="icontains")
    short_name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Area
        fields = ["level", "parent", "within", "name", "short_name", "urban_rural_code", "edition"]


class AreaChangeFilter(filters.FilterSet):
    area = AreaCodeFilter(field_name="area", help_text="division code of the area")
    within = WithinFilter()
    kind = filters.MultipleChoiceFilter(choices=AreaChange.Kind.choices)

    class Meta:
        model = AreaChange
        fields = ["area", "within", "edition", "kind"]


class GridFilter(CurrentFilterSet):
    layer = CodeFilter(
        field_name="layer", queryset=GridLayer.objects.all(), noun="grid layer", help_text="grid layer code"
    )
    area = AreaCodeFilter(field_name="area", help_text="division code of the grid's area (exact)")
    within = WithinFilter()
    kind = filters.ChoiceFilter(choices=Grid.Kind.choices)
    dedicated_type = filters.ChoiceFilter(choices=Grid.DedicatedType.choices[1:])
    name = filters.CharFilter(lookup_expr="icontains")
    bbox = filters.CharFilter(
        method="filter_bbox", help_text="min_lon,min_lat,max_lon,max_lat: grids whose bounding box meets it"
    )

    class Meta:
        model = Grid
        fields = ["layer", "area", "within", "kind", "dedicated_type", "code", "name", "synthetic", "bbox"]

    def filter_bbox(self, queryset, name, value):
        try:
            min_lon, min_lat, max_lon, max_lat = (float(v) for v in value.split(","))
        except ValueError:
            raise serializers.ValidationError(
                {"bbox": ["bbox must be four numbers: min_lon,min_lat,max_lon,max_lat"]}
            ) from None
        return queryset.filter(min_lon__lte=max_lon, max_lon__gte=min_lon, min_lat__lte=max_lat, max_lat__gte=min_lat)


# --- views -----------------------------------------------------------------------------------------------

INCLUDE_RETIRED = OpenApiParameter(
    "include_retired", OpenApiTypes.BOOL, description="also list retired areas (default: current only)"
)


@extend_schema(tags=["areas"])
class AreaViewSet(ReadOnlyViewSet):
    """The division tree: province → city → county → town/street → village/community → villager group.

    Looked up by division code. Lists show current areas unless ``include_retired=true``.
    """

    permission_classes = READ
    scope_path = None  # the division tree is public reference data
    queryset = Area.objects.all()
    serializer_class = AreaSerializer
    filterset_class = AreaFilter
    lookup_field = "code"
    lookup_value_regex = r"\d{12}(?:\d{3})?"
    ordering_fields = ["code", "name", "level"]
    ordering = ["code"]

    @extend_schema(parameters=[INCLUDE_RETIRED], responses=AreaSerializer(many=True))
    @action(detail=True, filter_backends=[])
    def children(self, request, code=None):
        """The areas directly below this one (current only unless ``include_retired=true``)."""
        area = self.get_object()
        queryset = self.get_queryset().filter(parent=area).order_by("code")
        if request.query_params.get("include_retired", "").lower() not in {"1", "true", "yes"}:
            queryset = queryset.filter(valid_to__isnull=True)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(responses=AreaSerializer(many=True))
    @action(detail=True, filter_backends=[], pagination_class=None)
    def ancestors(self, request, code=None):
        """The areas above this one, from the province down to the parent."""
        area = self.get_object()
        codes = area.ancestor_codes()[:-1]
        by_code = {a.code: a for a in self.get_queryset().filter(code__in=codes)}
        return Response(self.get_serializer([by_code[c] for c in codes if c in by_code], many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("version", OpenApiTypes.INT, description="a boundary version (default: current)")],
        responses={200: BoundaryFeatureSerializer, 404: OpenApiResponse(description="no such boundary")},
    )
    @action(detail=True, filter_backends=[], renderer_classes=[GeoJSONRenderer, JSONRenderer])
    def boundary(self, request, code=None):
        """The area's boundary as a GeoJSON Feature: the current version, or ``?version=`` for an older one."""
        area = self.get_object()
        boundaries = Boundary.objects.filter(area=area).select_related("area")
        version = request.query_params.get("version")
        if version:
            if not version.isdigit():
                raise serializers.ValidationError({"version": ["version must be a whole number"]})
            boundary = boundaries.filter(version=int(version)).first()
        else:
            boundary = boundaries.filter(valid_to__isnull=True).first()
        if boundary is None or boundary.geometry_wkb is None:
            raise Http404("no such boundary")
        return Response(feature(boundary, BoundaryPropertiesSerializer(boundary).data))


@extend_schema(tags=["areas"])
class AreaChangeViewSet(ReadOnlyViewSet):
    """History of the division tree: what each edition created, changed, retired or revived."""

    permission_classes = READ
    scope_path = None  # the history of the public division tree
    queryset = AreaChange.objects.select_related("area")
    serializer_class = AreaChangeSerializer
    filterset_class = AreaChangeFilter
    ordering_fields = ["id", "recorded_at", "edition"]
    ordering = ["-id"]


@extend_schema(tags=["grids"])
class GridLayerViewSet(ReadOnlyViewSet):
    """Layers of grids ("three grids in one"): comprehensive, forest-chief, river-chief …"""

    permission_classes = READ
    scope_path = None  # reference data
    queryset = GridLayer.objects.all()
    serializer_class = GridLayerSerializer
    lookup_field = "code"
    filterset_fields = ["full_coverage"]
    ordering_fields = ["order", "code", "name"]
    ordering = ["order", "code"]


FORMAT = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=["json", "geojson"], description="geojson: a FeatureCollection with geometry"
)


@extend_schema(tags=["grids"])
class GridViewSet(ReadOnlyViewSet):
    """Grids (网格). Lists leave geometry out for speed; ``?format=geojson`` (or the ``geojson`` list) gives a
    GeoJSON FeatureCollection with geometry, paginated like any list."""

    permission_classes = READ
    scope_path = "area__path"
    queryset = Grid.objects.select_related("layer", "area")
    serializer_class = GridSerializer
    filterset_class = GridFilter
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, GeoJSONRenderer]
    ordering_fields = ["code", "name", "households", "population", "updated_at"]
    ordering = ["layer__order", "code"]

    def _wants_geojson(self):
        renderer = getattr(self.request, "accepted_renderer", None)
        return renderer is not None and renderer.format == "geojson"

    def _feature_collection(self):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        features = [feature(grid, GridSerializer(grid, context=self.get_serializer_context()).data) for grid in page]
        paginator = self.paginator
        return Response(
            {
                "type": "FeatureCollection",
                "count": paginator.page.paginator.count,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "features": features,
            }
        )

    @extend_schema(
        parameters=[FORMAT],
        responses={
            (200, "application/json"): GridSerializer(many=True),
            (200, "application/geo+json"): GridFeatureCollectionSerializer,
        },
    )
    def list(self, request, *args, **kwargs):
        if self._wants_geojson():
            return self._feature_collection()
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=[FORMAT],
        responses={(200, "application/json"): GridSerializer, (200, "application/geo+json"): GridFeatureSerializer},
    )
    def retrieve(self, request, *args, **kwargs):
        if self._wants_geojson():
            grid = self.get_object()
            return Response(feature(grid, self.get_serializer(grid).data))
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        responses=GridFeatureCollectionSerializer,
        filters=True,
        parameters=[
            OpenApiParameter("page", OpenApiTypes.INT, description="page number"),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="features per page (at most 1000)"),
        ],
    )
    @action(detail=False, renderer_classes=[GeoJSONRenderer, JSONRenderer])
    def geojson(self, request):
        """The same list as a GeoJSON FeatureCollection with geometry (same filters, paginated)."""
        return self._feature_collection()
