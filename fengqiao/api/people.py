"""API of the five elements (人地事物组织): households, persons, buildings, places, organisations, and special
care records. Personal fields are accepted in plain text and only ever returned masked; ``id_number=`` and
``phone=`` find persons through the keyed hashes. ``POST /persons/{id}/unmask/`` returns the plaintext to holders
of ``people.unmask_person``, for a stated reason, and is audited. Special care records need
``people.view_specialcare``, and every read of them is audited; without a ``retention_until`` they get the
category's default retention period, restarted from ``until`` when the care ends."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from fengqiao.api.base import WRITE, ModelPermissions, ServiceViewSet, service_writes
from fengqiao.api.fields import CodeField, IdField, MaskedCharField
from fengqiao.api.filters import WithinFilter
from fengqiao.areas.models import Area, Grid
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.identity import IdentityError, normalise_phone
from fengqiao.core.masking import mask, mask_id_number, mask_name, mask_phone
from fengqiao.people import services
from fengqiao.people.models import Building, Household, Organisation, Person, Place, SpecialCare


def mask_birth_date(value):
    return f"{str(value)[:4]}-**-**"


def mask_address(value):
    return mask(value, 6, 0)


# --- serializers -----------------------------------------------------------------------------------------


class HouseholdSerializer(serializers.ModelSerializer):
    area = CodeField(read_only=True)
    grid = IdField(read_only=True)
    address = MaskedCharField(mask=mask_address, read_only=True, help_text="masked")

    class Meta:
        model = Household
        fields = ["id", "area", "grid", "number", "address", "created_at", "updated_at"]


class HouseholdUpdateSerializer(serializers.ModelSerializer):
    grid = IdField(queryset=Grid.objects.all(), allow_null=True, required=False)
    address = serializers.CharField(required=False, allow_blank=True, write_only=True)

    class Meta:
        model = Household
        fields = ["grid", "number", "address"]


class HouseholdCreateSerializer(HouseholdUpdateSerializer):
    area = CodeField(queryset=Area.objects.all())

    class Meta(HouseholdUpdateSerializer.Meta):
        fields = ["area", *HouseholdUpdateSerializer.Meta.fields]


class PersonSerializer(serializers.ModelSerializer):
    area = CodeField(read_only=True)
    grid = IdField(read_only=True)
    household = IdField(read_only=True)
    name = MaskedCharField(mask=mask_name, read_only=True, help_text="masked")
    id_number = MaskedCharField(mask=mask_id_number, read_only=True, help_text="masked (6+4)")
    phone = MaskedCharField(mask=mask_phone, read_only=True, help_text="masked (3+4)")
    # The year only: with the masked ID number (6+4) the whole date would give the number back.
    birth_date = MaskedCharField(mask=mask_birth_date, read_only=True, help_text="masked: year only (YYYY-**-**)")

    class Meta:
        model = Person
        fields = [
            "id",
            "area",
            "grid",
            "household",
            "relationship",
            "residence_type",
            "name",
            "id_number",
            "birth_date",
            "sex",
            "phone",
            "ethnicity",
            "created_at",
            "updated_at",
        ]


class PersonUpdateSerializer(serializers.ModelSerializer):
    grid = IdField(queryset=Grid.objects.all(), allow_null=True, required=False)
    household = IdField(queryset=Household.objects.all(), allow_null=True, required=False)
    name = serializers.CharField(required=False, max_length=100, write_only=True)
    id_number = serializers.CharField(required=False, allow_blank=True, max_length=30, write_only=True)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40, write_only=True)

    class Meta:
        model = Person
        fields = ["grid", "household", "relationship", "residence_type", "name", "id_number", "phone", "ethnicity"]


class PersonCreateSerializer(PersonUpdateSerializer):
    area = CodeField(queryset=Area.objects.all())
    name = serializers.CharField(max_length=100, write_only=True)

    class Meta(PersonUpdateSerializer.Meta):
        fields = ["area", *PersonUpdateSerializer.Meta.fields]


class UnmaskSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text="why the plaintext is needed (audited)")


class BuildingSerializer(serializers.ModelSerializer):
    area = CodeField(read_only=True)
    grid = IdField(read_only=True)

    class Meta:
        model = Building
        fields = ["id", "area", "grid", "address", "floors", "use", "created_at", "updated_at"]


class BuildingUpdateSerializer(serializers.ModelSerializer):
    grid = IdField(queryset=Grid.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Building
        fields = ["grid", "address", "floors", "use"]
        extra_kwargs = {"address": {"required": False}}


class BuildingCreateSerializer(BuildingUpdateSerializer):
    area = CodeField(queryset=Area.objects.all())

    class Meta(BuildingUpdateSerializer.Meta):
        fields = ["area", *BuildingUpdateSerializer.Meta.fields]
        extra_kwargs = {}


class PlaceSerializer(serializers.ModelSerializer):
    area = CodeField(read_only=True)
    grid = IdField(read_only=True)

    class Meta:
        model = Place
        fields = [
            "id",
            "area",
            "grid",
            "kind",
            "name",
            "address",
            "safety_status",
            "safety_date",
            "created_at",
            "updated_at",
        ]


class PlaceUpdateSerializer(serializers.ModelSerializer):
    grid = IdField(queryset=Grid.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Place
        fields = ["grid", "kind", "name", "address", "safety_status", "safety_date"]
        extra_kwargs = {"kind": {"required": False}, "name": {"required": False}}


class PlaceCreateSerializer(PlaceUpdateSerializer):
    area = CodeField(queryset=Area.objects.all())

    class Meta(PlaceUpdateSerializer.Meta):
        fields = ["area", *PlaceUpdateSerializer.Meta.fields]
        extra_kwargs = {}


class OrganisationSerializer(serializers.ModelSerializer):
    area = CodeField(read_only=True)

    class Meta:
        model = Organisation
        fields = ["id", "area", "kind", "name", "credit_code", "points", "created_at", "updated_at"]


class OrganisationUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["kind", "name", "credit_code", "points"]
        extra_kwargs = {"kind": {"required": False}, "name": {"required": False}}


class OrganisationCreateSerializer(OrganisationUpdateSerializer):
    area = CodeField(queryset=Area.objects.all())

    class Meta(OrganisationUpdateSerializer.Meta):
        fields = ["area", *OrganisationUpdateSerializer.Meta.fields]
        extra_kwargs = {}


class SpecialCareSerializer(serializers.ModelSerializer):
    person = IdField(read_only=True)
    details = MaskedCharField(mask=lambda v: mask(v, 0, 0), read_only=True, help_text="masked")

    class Meta:
        model = SpecialCare
        fields = [
            "id",
            "person",
            "category",
            "risk_level",
            "details",
            "since",
            "until",
            "retention_until",
            "created_at",
        ]


class SpecialCareUpdateSerializer(serializers.ModelSerializer):
    details = serializers.CharField(required=False, allow_blank=True, write_only=True)

    class Meta:
        model = SpecialCare
        fields = ["category", "risk_level", "details", "since", "until", "retention_until"]
        extra_kwargs = {"category": {"required": False}}


class SpecialCareCreateSerializer(SpecialCareUpdateSerializer):
    person = IdField(queryset=Person.objects.all())

    class Meta(SpecialCareUpdateSerializer.Meta):
        fields = ["person", *SpecialCareUpdateSerializer.Meta.fields]
        extra_kwargs = {}


# --- filters ---------------------------------------------------------------------------------------------


class PersonFilter(filters.FilterSet):
    id_number = filters.CharFilter(method="filter_id_number", help_text="ID number (exact match)")
    phone = filters.CharFilter(method="filter_phone", help_text="phone number (exact match)")
    within = WithinFilter()

    class Meta:
        model = Person
        fields = ["household", "grid", "residence_type", "sex", "id_number", "phone", "within"]

    def filter_id_number(self, queryset, name, value):
        return queryset.filter(id_number_hash=lookup_hash(value.strip().upper())) if value.strip() else queryset

    def filter_phone(self, queryset, name, value):
        try:
            phone = normalise_phone(value)
        except IdentityError:
            return queryset.none()
        return queryset.filter(phone_hash=lookup_hash(phone))


# --- views -----------------------------------------------------------------------------------------------

IN_SCOPE = {"grid": "area__path", "household": "area__path"}


class _PeopleViewSet(ServiceViewSet):
    """Writes call services.create_<service_name> / update_<service_name>."""

    service_name = ""

    def create_object(self, data):
        return getattr(services, f"create_{self.service_name}")(actor=self.actor(), **data)

    def update_object(self, instance, data):
        return getattr(services, f"update_{self.service_name}")(instance, actor=self.actor(), **data)


@extend_schema(tags=["people"])
@service_writes(HouseholdSerializer, create=HouseholdCreateSerializer, update=HouseholdUpdateSerializer)
class HouseholdViewSet(_PeopleViewSet):
    """Households (户) of villages and communities. The address is personal data: returned masked."""

    permission_classes = WRITE
    scope_path = "area__path"
    personal_data = True
    service_name = "household"
    scoped_relations = IN_SCOPE
    queryset = Household.objects.select_related("area")
    filterset_fields = ["grid", "number"]
    ordering = ["area__code", "number", "id"]


class UnmaskPermission(ModelPermissions):
    perms_map = {"POST": ["people.view_person", "people.unmask_person"]}


@extend_schema(tags=["people"])
@service_writes(PersonSerializer, create=PersonCreateSerializer, update=PersonUpdateSerializer)
class PersonViewSet(_PeopleViewSet):
    """Persons (人). Name, ID number and phone are returned masked; birth date and sex come from the ID number."""

    permission_classes = WRITE
    scope_path = "area__path"
    personal_data = True
    service_name = "person"
    scoped_relations = IN_SCOPE
    queryset = Person.objects.select_related("area")
    filterset_class = PersonFilter
    ordering = ["area__code", "id"]

    @extend_schema(
        request=UnmaskSerializer,
        responses=inline_serializer(
            "UnmaskedPerson",
            {"name": serializers.CharField(), "id_number": serializers.CharField(), "phone": serializers.CharField()},
        ),
    )
    @action(detail=True, methods=["post"], permission_classes=[UnmaskPermission])
    def unmask(self, request, pk=None):
        """The plaintext name, ID number and phone, for a stated reason (needs people.unmask_person; audited)."""
        person = self.get_object()
        body = UnmaskSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(services.unmask_person(person, actor=self.actor(), reason=body.validated_data["reason"]))


@extend_schema(tags=["people"])
@service_writes(BuildingSerializer, create=BuildingCreateSerializer, update=BuildingUpdateSerializer)
class BuildingViewSet(_PeopleViewSet):
    permission_classes = WRITE
    # Addresses of homes, rental houses and businesses lead to people: reading needs the view permission.
    personal_data = True
    scope_path = "area__path"
    service_name = "building"
    scoped_relations = {"grid": "area__path"}
    queryset = Building.objects.select_related("area")
    filterset_fields = ["grid", "use"]
    ordering = ["area__code", "address"]


@extend_schema(tags=["people"])
@service_writes(PlaceSerializer, create=PlaceCreateSerializer, update=PlaceUpdateSerializer)
class PlaceViewSet(_PeopleViewSet):
    """Places grid staff look after (DG5), with their safety certification."""

    permission_classes = WRITE
    # Addresses of homes, rental houses and businesses lead to people: reading needs the view permission.
    personal_data = True
    scope_path = "area__path"
    service_name = "place"
    scoped_relations = {"grid": "area__path"}
    queryset = Place.objects.select_related("area")
    filterset_fields = ["grid", "kind", "safety_status"]
    ordering = ["area__code", "name"]


@extend_schema(tags=["people"])
@service_writes(OrganisationSerializer, create=OrganisationCreateSerializer, update=OrganisationUpdateSerializer)
class OrganisationViewSet(_PeopleViewSet):
    """Organisations (组织) with their participation points (DG8)."""

    permission_classes = WRITE
    # Addresses of homes, rental houses and businesses lead to people: reading needs the view permission.
    personal_data = True
    scope_path = "area__path"
    service_name = "organisation"
    queryset = Organisation.objects.select_related("area")
    filterset_fields = ["kind", "credit_code"]
    ordering = ["area__code", "name"]


@extend_schema(tags=["people"])
@service_writes(SpecialCareSerializer, create=SpecialCareCreateSerializer, update=SpecialCareUpdateSerializer)
class SpecialCareViewSet(_PeopleViewSet):
    """Special and vulnerable groups: sensitive personal information. Reads need people.view_specialcare and
    are audited (one event per record; a list page: one event naming the ids)."""

    permission_classes = WRITE
    personal_data = True
    scope_path = "person__area__path"
    service_name = "special_care"
    scoped_relations = {"person": "area__path"}
    queryset = SpecialCare.objects.select_related("person__area")
    filterset_fields = ["person", "category", "risk_level"]
    ordering = ["person", "category"]

    def retrieve(self, request, *args, **kwargs):
        care = self.get_object()
        services.record_care_reads(actor=self.actor(), records=[care])
        return Response(self.get_serializer(care).data)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        services.record_care_reads(actor=self.actor(), records=rows)
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)
