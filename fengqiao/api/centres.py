"""API of governance centres, their service spaces, the roster of stationed staff and the reception log.

The reception log holds personal data: visitor name and phone are accepted in plain text when a visit is
logged and only ever returned masked; ``phone=`` finds visits through the keyed hash.
"""

from django.contrib.auth import get_user_model
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from fengqiao.api.base import READ, WRITE, ChangeModelPermissions, ReadOnlyViewSet, ServiceViewSet, service_writes
from fengqiao.api.fields import CodeField, IdField, MaskedCharField
from fengqiao.api.filters import AreaCodeFilter, CodeFilter, WithinFilter
from fengqiao.areas.codes import Level
from fengqiao.areas.models import Area
from fengqiao.centres import selectors, services
from fengqiao.centres.models import Centre, Reception, ServiceSpace, SpaceType, Stationing
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.masking import mask_name, mask_phone
from fengqiao.departments.models import Department

User = get_user_model()

# --- serializers -----------------------------------------------------------------------------------------


class SpaceTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = SpaceType
        fields = ["code", "name", "is_hall", "order"]


class SpaceSummarySerializer(serializers.ModelSerializer):
    space_type = CodeField(read_only=True)

    class Meta:
        model = ServiceSpace
        fields = ["id", "space_type", "name", "seats", "active"]


class CentreSerializer(serializers.ModelSerializer):
    area = CodeField(read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)
    level = serializers.ChoiceField(source="area.level", choices=Level.choices, read_only=True)
    spaces = SpaceSummarySerializer(many=True, read_only=True)

    class Meta:
        model = Centre
        fields = [
            "id",
            "area",
            "area_name",
            "level",
            "name",
            "address",
            "duty_phone",
            "opened_on",
            "floor_area_m2",
            "active",
            "spaces",
            "created_at",
            "updated_at",
        ]


class CentreUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Centre
        fields = ["name", "address", "duty_phone", "opened_on", "floor_area_m2", "active"]


class CentreCreateSerializer(CentreUpdateSerializer):
    area = CodeField(queryset=Area.objects.all(), help_text="division code (city, county, town or village)")

    class Meta(CentreUpdateSerializer.Meta):
        fields = ["area", *CentreUpdateSerializer.Meta.fields]


class ServiceSpaceSerializer(serializers.ModelSerializer):
    centre = IdField(read_only=True)
    centre_name = serializers.CharField(source="centre.name", read_only=True)
    space_type = CodeField(read_only=True)
    space_type_name = serializers.CharField(source="space_type.name", read_only=True)
    is_hall = serializers.BooleanField(source="space_type.is_hall", read_only=True)

    class Meta:
        model = ServiceSpace
        fields = ["id", "centre", "centre_name", "space_type", "space_type_name", "is_hall", "name", "seats", "active"]


class ServiceSpaceUpdateSerializer(serializers.ModelSerializer):
    space_type = CodeField(queryset=SpaceType.objects.all(), required=False)

    class Meta:
        model = ServiceSpace
        fields = ["space_type", "name", "seats", "active"]
        extra_kwargs = {"name": {"required": False, "allow_blank": True}}


class ServiceSpaceCreateSerializer(ServiceSpaceUpdateSerializer):
    centre = IdField(queryset=Centre.objects.all())
    space_type = CodeField(queryset=SpaceType.objects.all())

    class Meta(ServiceSpaceUpdateSerializer.Meta):
        fields = ["centre", *ServiceSpaceUpdateSerializer.Meta.fields]


class StationingSerializer(serializers.ModelSerializer):
    centre = IdField(read_only=True)
    centre_name = serializers.CharField(source="centre.name", read_only=True)
    department = IdField(read_only=True)
    department_name = serializers.CharField(source="department.name", read_only=True)
    staff = IdField(read_only=True)
    staff_username = serializers.CharField(source="staff.username", read_only=True)
    staff_name = serializers.SerializerMethodField()
    space = IdField(read_only=True)
    is_current = serializers.SerializerMethodField()

    class Meta:
        model = Stationing
        fields = [
            "id",
            "centre",
            "centre_name",
            "department",
            "department_name",
            "staff",
            "staff_username",
            "staff_name",
            "duty",
            "space",
            "valid_from",
            "valid_to",
            "is_current",
        ]

    @extend_schema_field(serializers.CharField())
    def get_staff_name(self, obj):
        return obj.staff.get_full_name() or obj.staff.get_username()

    @extend_schema_field(serializers.BooleanField(help_text="on duty today"))
    def get_is_current(self, obj):
        today = timezone.localdate()
        return obj.valid_from <= today and (obj.valid_to is None or obj.valid_to >= today)


class StationingUpdateSerializer(serializers.ModelSerializer):
    space = IdField(queryset=ServiceSpace.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Stationing
        fields = ["duty", "space"]


class StationingCreateSerializer(serializers.ModelSerializer):
    centre = IdField(queryset=Centre.objects.all())
    department = IdField(queryset=Department.objects.all())
    staff = IdField(queryset=User.objects.all(), help_text="user id of the staff member")
    space = IdField(queryset=ServiceSpace.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Stationing
        fields = ["centre", "department", "staff", "duty", "space", "valid_from", "valid_to"]
        validators = []  # the service checks the period and overlaps


class EndStationingSerializer(serializers.Serializer):
    valid_to = serializers.DateField(required=False, help_text="last day on duty (default: today)")


class ReceptionSerializer(serializers.ModelSerializer):
    centre = IdField(read_only=True)
    centre_name = serializers.CharField(source="centre.name", read_only=True)
    visitor_name = MaskedCharField(mask=mask_name, read_only=True, help_text="masked")
    visitor_phone = MaskedCharField(mask=mask_phone, read_only=True, help_text="masked")
    space = IdField(read_only=True)
    department = IdField(read_only=True)
    received_by = serializers.CharField(source="received_by.username", read_only=True, allow_null=True)

    class Meta:
        model = Reception
        fields = [
            "id",
            "centre",
            "centre_name",
            "received_at",
            "visitor_name",
            "visitor_phone",
            "headcount",
            "purpose",
            "space",
            "department",
            "outcome",
            "received_by",
            "created_at",
            "updated_at",
        ]


class ReceptionUpdateSerializer(serializers.ModelSerializer):
    space = IdField(queryset=ServiceSpace.objects.all(), allow_null=True, required=False)
    department = IdField(queryset=Department.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Reception
        fields = ["purpose", "headcount", "space", "department", "outcome"]


class ReceptionCreateSerializer(ReceptionUpdateSerializer):
    centre = IdField(queryset=Centre.objects.all())
    received_at = serializers.DateTimeField(required=False, help_text="default: now")
    visitor_name = serializers.CharField(required=False, allow_blank=True, max_length=100, write_only=True)
    visitor_phone = serializers.CharField(required=False, allow_blank=True, max_length=40, write_only=True)

    class Meta(ReceptionUpdateSerializer.Meta):
        fields = ["centre", "received_at", "visitor_name", "visitor_phone", *ReceptionUpdateSerializer.Meta.fields]


# --- filters ---------------------------------------------------------------------------------------------


class CentreFilter(filters.FilterSet):
    area = AreaCodeFilter(field_name="area", help_text="division code of the centre's area (exact)")
    within = WithinFilter()
    level = filters.TypedMultipleChoiceFilter(field_name="area__level", choices=Level.choices, coerce=int)
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Centre
        fields = ["area", "within", "level", "active", "name"]


class ServiceSpaceFilter(filters.FilterSet):
    space_type = CodeFilter(
        field_name="space_type", queryset=SpaceType.objects.all(), noun="space type", help_text="space type code"
    )
    is_hall = filters.BooleanFilter(field_name="space_type__is_hall")
    within = WithinFilter(path_field="centre__area__path")

    class Meta:
        model = ServiceSpace
        fields = ["centre", "space_type", "is_hall", "active", "within"]


class StationingFilter(filters.FilterSet):
    current = filters.BooleanFilter(method="filter_current", help_text="true: on duty today; false: not")
    on = filters.DateFilter(method="filter_on", help_text="on duty on this date")
    within = WithinFilter(path_field="centre__area__path")

    class Meta:
        model = Stationing
        fields = ["centre", "department", "staff", "current", "on", "within"]

    def filter_current(self, queryset, name, value):
        query = selectors.current_filter()
        return queryset.filter(query) if value else queryset.exclude(query)

    def filter_on(self, queryset, name, value):
        return queryset.filter(selectors.current_filter(value))


class ReceptionFilter(filters.FilterSet):
    received = filters.DateFromToRangeFilter(
        field_name="received_at", help_text="received_after / received_before: dates, both inclusive"
    )
    phone = filters.CharFilter(method="filter_phone", help_text="visitor phone number (exact match)")
    within = WithinFilter(path_field="centre__area__path")

    class Meta:
        model = Reception
        fields = ["centre", "received", "phone", "outcome", "department", "space", "within"]

    def filter_phone(self, queryset, name, value):
        phone = "".join(value.split())
        return queryset.filter(visitor_phone_hash=lookup_hash(phone)) if phone else queryset


# --- views -----------------------------------------------------------------------------------------------


@extend_schema(tags=["centres"])
@service_writes(CentreSerializer, create=CentreCreateSerializer, update=CentreUpdateSerializer)
class CentreViewSet(ServiceViewSet):
    """Governance centres (综治中心) at city, county, town/street and village/community level."""

    permission_classes = WRITE
    scope_path = "area__path"
    queryset = Centre.objects.select_related("area").prefetch_related("spaces__space_type")
    filterset_class = CentreFilter
    ordering_fields = ["area__code", "name", "opened_on"]
    ordering = ["area__code"]

    def create_object(self, data):
        return services.create_centre(actor=self.actor(), **data)

    def update_object(self, instance, data):
        return services.update_centre(instance, actor=self.actor(), **data)


@extend_schema(tags=["centres"])
class SpaceTypeViewSet(ReadOnlyViewSet):
    """Kinds of service space ("一厅五室"). Edited in the admin."""

    permission_classes = READ
    scope_path = None  # reference data
    queryset = SpaceType.objects.all()
    serializer_class = SpaceTypeSerializer
    lookup_field = "code"
    filterset_fields = ["is_hall"]
    ordering_fields = ["order", "code"]
    ordering = ["order", "code"]


@extend_schema(tags=["centres"])
@service_writes(ServiceSpaceSerializer, create=ServiceSpaceCreateSerializer, update=ServiceSpaceUpdateSerializer)
class ServiceSpaceViewSet(ServiceViewSet):
    """A centre's reception hall and rooms (mediation, psychological service, …)."""

    permission_classes = WRITE
    scope_path = "centre__area__path"
    scoped_relations = {"centre": "area__path"}
    queryset = ServiceSpace.objects.select_related("centre", "space_type")
    filterset_class = ServiceSpaceFilter
    ordering_fields = ["name", "space_type__order"]
    ordering = ["centre", "space_type__order", "name"]

    def create_object(self, data):
        return services.add_space(actor=self.actor(), **data)

    def update_object(self, instance, data):
        return services.update_space(instance, actor=self.actor(), **data)


@extend_schema(tags=["centres"])
@service_writes(StationingSerializer, create=StationingCreateSerializer, update=StationingUpdateSerializer)
class StationingViewSet(ServiceViewSet):
    """The roster of department staff stationed in centres (GZ3). Periods are inclusive dates; a stationing is
    ended with the ``end`` action, never deleted."""

    permission_classes = WRITE
    scope_path = "centre__area__path"
    scoped_relations = {"centre": "area__path", "department": "area__path", "space": "centre__area__path"}
    queryset = Stationing.objects.select_related("centre", "department", "staff", "space")
    filterset_class = StationingFilter
    ordering_fields = ["valid_from", "valid_to"]
    ordering = ["centre", "-valid_from"]

    def create_object(self, data):
        return services.station_staff(actor=self.actor(), **data)

    def update_object(self, instance, data):
        clear_space = "space" in data and data["space"] is None
        return services.update_stationing(instance, actor=self.actor(), clear_space=clear_space, **data)

    @extend_schema(request=EndStationingSerializer, responses=StationingSerializer)
    @action(detail=True, methods=["post"], permission_classes=[ChangeModelPermissions])
    def end(self, request, pk=None):
        """End the stationing: ``valid_to`` is the last day on duty (default today)."""
        stationing = self.get_object()
        body = EndStationingSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        stationing = services.end_stationing(
            stationing, actor=self.actor(), valid_to=body.validated_data.get("valid_to")
        )
        return Response(StationingSerializer(self.reload(stationing), context=self.get_serializer_context()).data)


@extend_schema(tags=["centres"])
@service_writes(ReceptionSerializer, create=ReceptionCreateSerializer, update=ReceptionUpdateSerializer)
class ReceptionViewSet(ServiceViewSet):
    """The walk-in reception log (GZ2). Visitor name and phone are masked in every response. Personal data:
    reading it (and finding visits by ``phone=``) needs ``centres.view_reception``."""

    permission_classes = WRITE
    scope_path = "centre__area__path"
    scoped_relations = {"centre": "area__path", "department": "area__path", "space": "centre__area__path"}
    personal_data = True
    queryset = Reception.objects.select_related("centre", "received_by")
    filterset_class = ReceptionFilter
    ordering_fields = ["received_at"]
    ordering = ["-received_at"]

    def create_object(self, data):
        return services.log_reception(actor=self.actor(), **data)

    def update_object(self, instance, data):
        return services.update_reception(instance, actor=self.actor(), **data)
