"""API of functional departments (with their catalogue of responsibilities) and the matter-category tree."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from fengqiao.api.base import WRITE, ServiceViewSet, service_writes
from fengqiao.api.fields import CodeField
from fengqiao.api.filters import AreaCodeFilter, CodeFilter, WithinFilter
from fengqiao.areas.models import Area
from fengqiao.departments import selectors, services
from fengqiao.departments.models import Category, Department

# --- serializers -----------------------------------------------------------------------------------------


class CatalogueEntrySerializer(serializers.Serializer):
    category = CodeField(queryset=Category.objects.all(), help_text="category code")
    category_name = serializers.CharField(source="category.name", read_only=True)
    lead = serializers.BooleanField(default=True, help_text="lead unit (主办) rather than assisting (协办)")
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class DepartmentSerializer(serializers.ModelSerializer):
    """One shape for reading and writing. ``area`` is set on creation and never changes; ``catalogue``, when
    written, replaces the whole catalogue."""

    area = CodeField(queryset=Area.objects.all(), help_text="division code of the area")
    area_name = serializers.CharField(source="area.name", read_only=True)
    catalogue = CatalogueEntrySerializer(many=True, required=False)

    class Meta:
        model = Department
        fields = [
            "id",
            "area",
            "area_name",
            "code",
            "name",
            "short_name",
            "kind",
            "office_phone",
            "active",
            "catalogue",
            "created_at",
            "updated_at",
        ]
        validators = []  # the services validate (uniqueness included)


class ResponsibleSerializer(serializers.Serializer):
    department = DepartmentSerializer()
    matched_category = serializers.CharField(help_text="the category of the catalogue line that matched")
    lead = serializers.BooleanField(help_text="lead unit (主办) rather than assisting (协办)")


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.SerializerMethodField()
    depth = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = ["id", "code", "name", "scheme", "parent", "path", "depth", "active", "order", "updated_at"]

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="code of the parent category"))
    def get_parent(self, obj):
        codes = obj.ancestor_codes()
        return codes[-2] if len(codes) > 1 else None

    @extend_schema_field(serializers.IntegerField(help_text="1 for a root"))
    def get_depth(self, obj):
        return len(obj.ancestor_codes())


class CategoryUpdateSerializer(serializers.ModelSerializer):
    parent = CodeField(
        queryset=Category.objects.all(),
        allow_null=True,
        required=False,
        help_text="code of the new parent (moves the whole subtree); null makes it a root",
    )

    class Meta:
        model = Category
        fields = ["name", "scheme", "parent", "active", "order"]


class CategoryCreateSerializer(CategoryUpdateSerializer):
    scheme = serializers.ChoiceField(
        choices=Category.Scheme.choices, required=False, help_text="default: the parent's scheme, else local"
    )

    class Meta(CategoryUpdateSerializer.Meta):
        fields = ["code", *CategoryUpdateSerializer.Meta.fields]
        extra_kwargs = {"code": {"validators": []}}


class CategoryNodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    scheme = serializers.CharField()
    active = serializers.BooleanField()
    children = serializers.SerializerMethodField()

    @extend_schema_field({"type": "array", "items": {"$ref": "#/components/schemas/CategoryNode"}})
    def get_children(self, obj):
        return obj["children"]


# --- filters ---------------------------------------------------------------------------------------------


class DepartmentFilter(filters.FilterSet):
    area = AreaCodeFilter(field_name="area", help_text="division code of the department's area (exact)")
    within = WithinFilter()
    kind = filters.MultipleChoiceFilter(choices=Department.Kind.choices)
    category = CodeFilter(
        field_name="responsibility__category",
        queryset=Category.objects.all(),
        noun="category",
        distinct=True,
        help_text="responsible for this category code",
    )
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Department
        fields = ["area", "within", "kind", "category", "code", "name", "active"]


class CategoryFilter(filters.FilterSet):
    parent = CodeFilter(
        field_name="parent", queryset=Category.objects.all(), noun="category", help_text="code of the parent category"
    )
    root = filters.BooleanFilter(field_name="parent", lookup_expr="isnull", help_text="only root categories")
    within = CodeFilter(
        method="filter_within",
        queryset=Category.objects.all(),
        noun="category",
        help_text="category code: it and its whole subtree",
    )
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Category
        fields = ["scheme", "parent", "root", "within", "active", "name"]

    def filter_within(self, queryset, name, category):
        return queryset.filter(path__startswith=category.path)


# --- views -----------------------------------------------------------------------------------------------


def _entries(data):
    return [services.CatalogueEntry(e["category"], e.get("lead", True), e.get("note", "")) for e in data]


@extend_schema(tags=["departments"])
class DepartmentViewSet(ServiceViewSet):
    """Functional departments (职能部门) with their catalogue of responsibilities."""

    permission_classes = WRITE
    scope_path = "area__path"
    serializer_class = DepartmentSerializer
    queryset = selectors.departments_with_catalogue()
    filterset_class = DepartmentFilter
    ordering_fields = ["code", "name", "area__code"]
    ordering = ["area__code", "code"]

    def create_object(self, data):
        catalogue = data.pop("catalogue", None)
        department = services.create_department(actor=self.actor(), **data)
        if catalogue:
            services.set_catalogue(department, actor=self.actor(), entries=_entries(catalogue))
        return department

    def update_object(self, instance, data):
        catalogue = data.pop("catalogue", None)
        area = data.pop("area", None)
        if area is not None and area.pk != instance.area_id:
            raise serializers.ValidationError({"area": ["The area of a department cannot change."]})
        department = services.update_department(instance, actor=self.actor(), **data)
        if catalogue is not None:
            services.set_catalogue(department, actor=self.actor(), entries=_entries(catalogue))
        return department

    @extend_schema(
        parameters=[
            OpenApiParameter("area", str, required=True, description="area code where the matter arose"),
            OpenApiParameter("category", str, required=True, description="category code of the matter"),
        ],
        responses=ResponsibleSerializer(many=True),
    )
    @action(detail=False, filter_backends=[], pagination_class=None)
    def responsible(self, request):
        """Who handles a matter of ``category`` in ``area``, best first: nearest area, most specific category,
        lead before assisting (the order the closed loop routes by)."""
        errors = {}
        area = Area.objects.filter(code=request.query_params.get("area", "")).first()
        category = Category.objects.filter(code=request.query_params.get("category", "")).first()
        if area is None:
            errors["area"] = ["unknown area code"]
        if category is None:
            errors["category"] = ["unknown category code"]
        if errors:
            raise serializers.ValidationError(errors)
        ranked = selectors.responsible_departments(area, category)
        visible = self.get_queryset().in_bulk([d.pk for d in ranked])  # scoped, with the catalogue loaded
        lines = [
            {
                "department": visible[d.pk],
                "matched_category": d.responsibility.category.code,
                "lead": d.responsibility.lead,
            }
            for d in ranked
            if d.pk in visible
        ]
        return Response(ResponsibleSerializer(lines, many=True, context=self.get_serializer_context()).data)


@extend_schema(tags=["departments"])
@service_writes(CategorySerializer, create=CategoryCreateSerializer, update=CategoryUpdateSerializer)
class CategoryViewSet(ServiceViewSet):
    """The tree of matter categories (12345 hotline, GB/T 31000 dispute types, local). Looked up by code;
    lists are in tree order (by path)."""

    permission_classes = WRITE
    scope_path = None  # reference data: one catalogue of categories for the province
    queryset = Category.objects.all()
    filterset_class = CategoryFilter
    lookup_field = "code"
    lookup_value_regex = r"[^/]+"
    ordering_fields = ["path", "code", "name", "order"]
    ordering = ["path"]

    def create_object(self, data):
        return services.create_category(actor=self.actor(), **data)

    def update_object(self, instance, data):
        moving = "parent" in data
        parent = data.pop("parent", None)
        category = services.update_category(instance, actor=self.actor(), **data)
        if moving:
            category = services.move_category(category, actor=self.actor(), parent=parent)
        return category

    @extend_schema(responses=CategoryNodeSerializer(many=True))
    @action(detail=False, pagination_class=None)
    def tree(self, request):
        """The (filtered) categories as nested trees: roots with their ``children``."""
        rows = list(self.filter_queryset(self.get_queryset()).order_by("path"))
        nodes = {
            c.path: {"code": c.code, "name": c.name, "scheme": c.scheme, "active": c.active, "children": []}
            for c in rows
        }
        roots = []
        for c in rows:
            parent_path = c.path[: -len(c.code) - 1]
            (nodes[parent_path]["children"] if parent_path in nodes else roots).append(nodes[c.path])
        return Response(roots)
