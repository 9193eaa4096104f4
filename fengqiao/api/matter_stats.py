"""``GET /api/v1/matter-stats/``: statistics of the closed loop (ADR 0013, amendment "Statistics").

    /api/v1/matter-stats/?within=441821000000&group_by=month&from=2026-01-01&to=2026-06-30

Every figure and rate is defined in `fengqiao.matters.stats`. Needs ``matters.view_matter``. Scoped: ``within``
must lie in the caller's areas (an area outside them is "not found", 404); without it the figures cover all of
the caller's areas. A bad parameter is a 400 naming it (unknown parameter or ``group_by``, a date not in
YYYY-MM-DD form, ``from`` after ``to``, a malformed or unknown division code).
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from fengqiao.api.base import BaseViewSet
from fengqiao.matters import stats
from fengqiao.matters.models import Matter


class ViewMatterPermission(BasePermission):
    """An authenticated user with ``matters.view_matter`` (anonymous: 401, others without it: 403)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("matters.view_matter"))


def _levels(field_class, **kwargs):
    return type(
        f"SolvedAtLevel{field_class.__name__}",
        (serializers.Serializer,),
        {level: field_class(**kwargs) for level in stats.SOLVED_LEVELS},
    )


RATE = {"allow_null": True, "min_value": 0, "max_value": 1, "help_text": "fraction; null when nothing to count"}


def _serializer(name, fields, base=serializers.Serializer):
    """A serializer class for the schema (some keys, such as ``from``, are Python keywords)."""
    return type(name, (base,), fields)


FiguresSerializer = _serializer(
    "MatterStatsFigures",
    {
        **{name: serializers.IntegerField() for name in stats.PUBLISHED_COUNTS},
        **{name: serializers.FloatField(**RATE) for name in stats.RATES},
        "solved_at_level": _levels(serializers.IntegerField)(),
        "solved_at_level_share": _levels(serializers.FloatField, **RATE)(),
    },
)
GroupSerializer = _serializer(
    "MatterStatsGroup",
    {
        "key": serializers.CharField(allow_null=True, help_text="area code, grid or department id, level, period"),
        "name": serializers.CharField(required=False),
        "code": serializers.CharField(required=False, help_text="grid or department code"),
        "area": serializers.CharField(required=False, help_text="area code of the grid or department"),
        "level": serializers.IntegerField(required=False, allow_null=True),
        "itself": serializers.BooleanField(required=False, help_text="matters placed on `within` itself"),
        "from": serializers.DateField(required=False),
        "to": serializers.DateField(required=False),
    },
    base=FiguresSerializer,
)
AreaInfoSerializer = _serializer(
    "MatterStatsArea",
    {"code": serializers.CharField(), "name": serializers.CharField(), "level": serializers.IntegerField()},
)
ReportSerializer = _serializer(
    "MatterStatsReport",
    {
        "within": AreaInfoSerializer(allow_null=True),
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "group_by": serializers.ChoiceField(choices=stats.GROUP_BY, allow_null=True),
        "workflow": serializers.CharField(),
        "total": FiguresSerializer(),
        "groups": GroupSerializer(many=True, required=False),
    },
)


class OneObjectSchema(AutoSchema):
    """The report is one object, not a list, although the route is a collection's."""

    def _is_list_view(self, serializer=None):
        return False


PARAMETERS = [
    OpenApiParameter("within", OpenApiTypes.STR, description="division code (default: all of your areas)"),
    OpenApiParameter("group_by", OpenApiTypes.STR, enum=list(stats.GROUP_BY)),
    OpenApiParameter("from", OpenApiTypes.DATE, description="first day (default: 1 January of `to`'s year)"),
    OpenApiParameter("to", OpenApiTypes.DATE, description="last day, inclusive (default: today)"),
]


class MatterStatsViewSet(BaseViewSet):
    """Statistics of the matters received in a period in the caller's areas, in total and by group."""

    permission_classes = [ViewMatterPermission]
    personal_data = True  # figures over matters: need to know (view_matter), like the matters themselves
    # Scoping is done by `stats.roots_for` (within must lie in the caller's areas), on this model's area.
    scope_path = "area__path"
    queryset = Matter.objects.none()
    pagination_class = None
    filter_backends = []
    schema = OneObjectSchema()

    @extend_schema(parameters=PARAMETERS, responses={200: ReportSerializer})
    def list(self, request, *args, **kwargs):
        try:
            query = stats.parse_query(request.query_params)
            report = stats.matter_stats(query, scope=self.scope())
        except stats.StatsError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        except stats.OutOfScope as exc:
            raise NotFound(str(exc)) from None
        return Response(report)
