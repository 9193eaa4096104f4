"""Admin of the area tree, its history, boundaries, grid layers and grids.

Geometry is never edited here (importers and services write it); the tables are large, so list pages skip the
WKB column and the full result count.
"""

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from fengqiao.accounts.admin_scope import ScopedAdminMixin
from fengqiao.areas import addresses, grids, services
from fengqiao.areas.codes import CodeError, check_parent, level_of
from fengqiao.areas.models import Area, AreaChange, Boundary, DivisionEdition, Grid, GridLayer, StandardAddress
from fengqiao.audit.admin import AuditedModelAdmin, ServiceModelAdmin, adopt
from fengqiao.core.admin import ReadOnlyAdminMixin


class CurrentFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return [("yes", _("current")), ("no", _("retired"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(valid_to__isnull=True)
        if self.value() == "no":
            return queryset.filter(valid_to__isnull=False)
        return queryset


def bbox_display(obj):
    if obj.min_lon is None:
        return "—"
    return f"{obj.min_lon:.5f}, {obj.min_lat:.5f} – {obj.max_lon:.5f}, {obj.max_lat:.5f}"


def area_display(obj):
    return "—" if obj.area_m2 is None else f"{obj.area_m2:,.0f}"


class AreaAddForm(forms.ModelForm):
    class Meta:
        model = Area
        fields = ["code", "name", "parent", "urban_rural_code", "valid_from", "edition"]

    def clean(self):
        cleaned = super().clean()
        code, parent = cleaned.get("code"), cleaned.get("parent")
        if not code:
            return cleaned
        try:
            level_of(code)
        except CodeError as exc:
            self.add_error("code", str(exc))
            return cleaned
        try:
            check_parent(code, parent.code if parent else None)
        except CodeError as exc:
            self.add_error("parent", str(exc))
        return cleaned


@admin.register(Area)
class AreaAdmin(AuditedModelAdmin):
    """New areas go through `areas.services.create_area`; on an existing area only the names and the urban-rural
    code can be edited (codes, parents and editions come from the division imports)."""

    list_display = ["code", "name", "short_name", "level", "parent", "edition", "valid_to"]
    list_filter = ["level", CurrentFilter, "edition"]
    search_fields = ["code", "name", "short_name"]
    raw_id_fields = ["parent"]
    list_select_related = ["parent"]
    show_full_result_count = False
    ordering = ["code"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AreaAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["code", "name", "parent", "urban_rural_code", "valid_from", "edition"]
        return [
            "code",
            "name",
            "short_name",
            "level",
            "parent",
            "path",
            "urban_rural_code",
            "valid_from",
            "valid_to",
            "edition",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["level", "path"]
        return ["code", "level", "parent", "path", "valid_from", "valid_to", "edition"]

    def get_changeform_initial_data(self, request):
        return {"edition": "manual", **super().get_changeform_initial_data(request)}

    def has_delete_permission(self, request, obj=None):
        return False  # codes are never deleted, only retired by an edition

    def save_model(self, request, obj, form, change):
        if change:
            area = services.update_area(
                actor=request.user,
                area=Area.objects.get(pk=obj.pk),
                name=form.cleaned_data.get("name"),
                short_name=form.cleaned_data.get("short_name") if "short_name" in form.changed_data else None,
                urban_rural_code=form.cleaned_data.get("urban_rural_code") or "",
            )
            adopt(obj, area)
            return None
        area = services.create_area(
            actor=request.user,
            code=form.cleaned_data["code"],
            name=form.cleaned_data["name"],
            parent=form.cleaned_data.get("parent"),
            urban_rural_code=form.cleaned_data.get("urban_rural_code") or "",
            edition=form.cleaned_data.get("edition") or "manual",
            valid_from=form.cleaned_data.get("valid_from"),
        )
        adopt(obj, area)
        return None


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(AreaChange)
class AreaChangeAdmin(ReadOnlyAdmin):
    list_display = ["area", "kind", "edition", "recorded_at"]
    list_filter = ["kind", "edition"]
    search_fields = ["area__code", "area__name"]
    list_select_related = ["area"]
    show_full_result_count = False
    fields = ["area", "edition", "kind", "before", "after", "recorded_at"]
    readonly_fields = fields


@admin.register(DivisionEdition)
class DivisionEditionAdmin(ReadOnlyAdmin):
    list_display = ["label", "valid_from", "applied_at", "forced", "files", "counts"]
    list_filter = ["label", "forced"]
    date_hierarchy = "applied_at"


@admin.register(Boundary)
class BoundaryAdmin(ReadOnlyAdmin):
    list_display = ["area", "version", "area_m2_display", "bbox_display", "repaired", "synthetic", "valid_to"]
    list_filter = ["repaired", "synthetic", CurrentFilter]
    search_fields = ["area__code", "area__name"]
    list_select_related = ["area"]
    show_full_result_count = False
    fields = [
        "area",
        "version",
        "source",
        "source_crs",
        "repaired",
        "synthetic",
        "valid_from",
        "valid_to",
        "area_m2_display",
        "bbox_display",
        "geometry_hash",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("geometry_wkb")

    @admin.display(description=_("area (m²)"), ordering="area_m2")
    def area_m2_display(self, obj):
        return area_display(obj)

    @admin.display(description=_("bounding box"))
    def bbox_display(self, obj):
        return bbox_display(obj)


@admin.register(GridLayer)
class GridLayerAdmin(AuditedModelAdmin):
    list_display = ["code", "name", "full_coverage", "order", "grid_count"]
    list_editable = ["order"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(grid_count=Count("grids"))

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj is not None else []

    @admin.display(description=_("grids"), ordering="grid_count")
    def grid_count(self, obj):
        return obj.grid_count


class GridForm(forms.ModelForm):
    class Meta:
        model = Grid
        fields = ["code", "name", "kind", "dedicated_type", "area", "households", "population", "synthetic"]

    def clean(self):
        cleaned = super().clean()
        what = f"grid {self.instance.code}"
        try:
            grids.check_kind(cleaned.get("kind"), cleaned.get("dedicated_type") or "", what=what)
        except grids.GridError as exc:
            self.add_error("dedicated_type", str(exc))
        area = cleaned.get("area")
        if area is not None and area.pk != self.instance.area_id:
            try:
                grids.check_area(area, what=what)
            except grids.GridError as exc:
                self.add_error("area", str(exc))
        code = cleaned.get("code")
        if (
            code
            and Grid.objects.filter(layer_id=self.instance.layer_id, code=code).exclude(pk=self.instance.pk).exists()
        ):
            self.add_error("code", _("This code is already used in the layer."))
        return cleaned


@admin.register(Grid)
class GridAdmin(ScopedAdminMixin, ServiceModelAdmin):
    admin_scope_path = "area__path"
    """Grid attributes only, through `areas.grids`: grids (with their geometry) come from the import, and are
    retired rather than deleted. Geometry is shown as area and bounding box."""

    form = GridForm
    list_display = ["code", "name", "layer", "kind", "area", "households", "population", "valid_to"]
    list_filter = ["layer", "kind", "dedicated_type", "synthetic", CurrentFilter]
    search_fields = ["code", "name", "area__code", "area__name"]
    raw_id_fields = ["area"]
    list_select_related = ["layer", "area"]
    show_full_result_count = False
    actions = ["retire"]
    fields = [
        "layer",
        "code",
        "name",
        "kind",
        "dedicated_type",
        "area",
        "households",
        "population",
        "synthetic",
        "valid_to",
        "area_m2_display",
        "bbox_display",
        "geometry_hash",
    ]
    readonly_fields = ["layer", "valid_to", "area_m2_display", "bbox_display", "geometry_hash"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("geometry_wkb")

    def has_add_permission(self, request):
        return False  # grids come with their geometry from `import_grids` (areas.grids.import_grid_file)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.valid_to is not None:
            return False
        return super().has_change_permission(request, obj)

    def update_via_service(self, request, obj, form):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        return grids.update_grid(actor=request.user, grid=obj, **changes)

    @admin.action(description=_("Retire the selected grids"), permissions=["change"])
    def retire(self, request, queryset):
        count = 0
        for grid in queryset.filter(valid_to__isnull=True):
            grids.retire_grid(actor=request.user, grid=grid)
            count += 1
        self.message_user(request, _("%(count)d grids retired.") % {"count": count})

    @admin.display(description=_("area (m²)"), ordering="area_m2")
    def area_m2_display(self, obj):
        return area_display(obj)

    @admin.display(description=_("bounding box"))
    def bbox_display(self, obj):
        return bbox_display(obj)


@admin.register(StandardAddress)
class StandardAddressAdmin(ScopedAdminMixin, AuditedModelAdmin):
    """Standard addresses come from `fengqiao import-addresses` (which locates their grids); here they are looked
    up, located again after the grids changed, or deleted (with an audit event)."""

    admin_scope_path = "area__path"
    list_display = ["address", "key", "area", "grid", "lon", "lat", "source", "updated_at"]
    list_filter = ["source", "area__level"]
    search_fields = ["address", "normalised", "area__code", "area__name", "grid__code"]
    list_select_related = ["area", "grid"]
    show_full_result_count = False
    actions = ["relocate"]
    fields = ["address", "normalised", "key", "lon", "lat", "area", "grid", "source", "created_at", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # imported with their points (addresses.import_address_file)

    def has_change_permission(self, request, obj=None):
        return False

    def has_relocate_permission(self, request):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description=_("Locate the selected addresses in the grids again"), permissions=["relocate"])
    def relocate(self, request, queryset):
        changed = addresses.relocate_addresses(actor=request.user, addresses=queryset)
        self.message_user(request, _("%(count)d addresses moved to another grid or area.") % {"count": changed})
