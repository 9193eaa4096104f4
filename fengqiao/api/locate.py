"""GET /api/v1/locate?lon=&lat=[&layer=]: which grid (else which area) a WGS84 point lies in."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from fengqiao.areas.grids import GridError
from fengqiao.areas.locate import locate
from fengqiao.areas.models import GridLayer
from fengqiao.core.geo import GeoError


class LocateAreaSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="12-digit division code")
    name = serializers.CharField()
    level = serializers.IntegerField(help_text="1 province … 5 village/community, 6 villager group")


class LocateGridSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    layer = serializers.CharField(help_text="grid layer code")


class LocateResponseSerializer(serializers.Serializer):
    grid = LocateGridSerializer(allow_null=True, help_text="the grid containing the point, or null")
    area = LocateAreaSerializer(allow_null=True, help_text="the deepest area: the grid's, else by boundary")
    chain = LocateAreaSerializer(many=True, help_text="areas from the province down to `area`")
    method = serializers.ChoiceField(choices=["grid", "area-boundary", "none"])
    reason = serializers.CharField()


class LocateErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


def _area(area):
    return {"code": area.code, "name": area.name, "level": area.level} if area is not None else None


class LocateView(APIView):
    """Locate a GPS point: its grid of a layer, or (no grid there) the smallest area whose boundary holds it."""

    # Token first, so that a request without credentials gets 401 with WWW-Authenticate (not 403).
    # Expiring API tokens first, then the session (settings.REST_FRAMEWORK): a request
    # without credentials gets 401 with WWW-Authenticate: Token, not 403.
    authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="locate",
        summary="Locate a point (grid, area, area chain)",
        description=(
            "Finds the current grid of `layer` that contains the WGS84 point; when none does, falls back to the "
            "deepest area whose current boundary contains it (`method` = `area-boundary`); `none` when the "
            "point is outside every area. GCJ-02 coordinates from Chinese map apps must be converted first."
        ),
        parameters=[
            OpenApiParameter(
                "lon",
                OpenApiTypes.DOUBLE,
                OpenApiParameter.QUERY,
                required=True,
                description="WGS84 longitude (73.4–135.1 in China)",
            ),
            OpenApiParameter(
                "lat",
                OpenApiTypes.DOUBLE,
                OpenApiParameter.QUERY,
                required=True,
                description="WGS84 latitude (3.8–53.6 in China)",
            ),
            OpenApiParameter(
                "layer",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                description=f"grid layer code (default {GridLayer.COMPREHENSIVE})",
            ),
        ],
        responses={200: LocateResponseSerializer, 400: LocateErrorSerializer},
        examples=[
            OpenApiExample(
                "swapped coordinates",
                value={"detail": "lon=23.9 lat=113.5 looks swapped: longitude comes first (…)"},
                response_only=True,
                status_codes=["400"],
            )
        ],
        tags=["areas"],
    )
    def get(self, request):
        lon, lat = request.query_params.get("lon"), request.query_params.get("lat")
        if lon in (None, "") or lat in (None, ""):
            return Response({"detail": "query parameters lon and lat are required (WGS84 degrees)"}, status=400)
        layer = request.query_params.get("layer") or GridLayer.COMPREHENSIVE
        try:
            result = locate(lon, lat, layer=layer)
        except (GeoError, GridError) as exc:
            return Response({"detail": str(exc)}, status=400)
        grid = result.grid
        return Response(
            {
                "grid": (
                    {"id": grid.pk, "code": grid.code, "name": grid.name, "layer": grid.layer.code}
                    if grid is not None
                    else None
                ),
                "area": _area(result.area),
                "chain": [_area(a) for a in result.chain],
                "method": result.method,
                "reason": result.reason,
            }
        )
