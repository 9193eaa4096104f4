"""Admin of matter categories, departments and their catalogue. Saves go through `departments.services`."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from fengqiao.accounts.admin_scope import ScopedAdminMixin
from fengqiao.audit.admin import ServiceModelAdmin
from fengqiao.core.admin import ReadOnlyAdminMixin
from fengqiao.departments import services
from fengqiao.departments.models import Category, Department, Membership, Responsibility


def _add_errors(form, exc: ValidationError):
    for field, messages in exc.message_dict.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ["code", "name", "scheme", "parent", "active", "order"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and "parent" in cleaned:
            try:
                services.check_move(self.instance, cleaned["parent"])
            except ValidationError as exc:
                _add_errors(self, exc)
        return cleaned


@admin.register(Category)
class CategoryAdmin(ServiceModelAdmin):
    form = CategoryForm
    list_display = ["indented_name", "code", "scheme", "parent", "active", "order"]
    list_filter = ["scheme", "active"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]
    list_select_related = ["parent"]
    ordering = ["path"]

    def get_readonly_fields(self, request, obj=None):
        return ["code", "path"] if obj is not None else ["path"]

    @admin.display(description=_("name"), ordering="path")
    def indented_name(self, obj):
        return "\u3000" * (len(obj.ancestor_codes()) - 1) + obj.name

    def create_via_service(self, request, obj, form):
        data = form.cleaned_data
        return services.create_category(
            actor=request.user,
            code=data["code"],
            name=data["name"],
            parent=data.get("parent"),
            scheme=data.get("scheme") or None,
            active=data.get("active", True),
            order=data.get("order", 100),
        )

    def update_via_service(self, request, obj, form):
        data = form.cleaned_data
        category = services.update_category(
            obj,
            actor=request.user,
            name=data["name"],
            scheme=data["scheme"],
            active=data["active"],
            order=data["order"],
        )
        if "parent" in form.changed_data:
            category = services.move_category(category, actor=request.user, parent=data.get("parent"))
        return category


class ResponsibilityInline(admin.TabularInline):
    model = Responsibility
    fields = ["category", "lead", "note"]
    raw_id_fields = ["category"]
    extra = 1
    can_delete = True


class DepartmentForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ["area", "code", "name", "short_name", "kind", "office_phone", "active"]

    def clean(self):
        cleaned = super().clean()
        area = cleaned.get("area") or (self.instance.area if self.instance.area_id else None)
        code = cleaned.get("code")
        if area is not None and code:
            clash = Department.objects.filter(area=area, code=code).exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("code", _("This area already has a department with this code."))
        return cleaned


@admin.register(Department)
class DepartmentAdmin(ScopedAdminMixin, ServiceModelAdmin):
    admin_scope_path = "area__path"
    form = DepartmentForm
    list_display = ["code", "name", "short_name", "area", "kind", "active"]
    list_filter = ["kind", "active", "area__level"]
    search_fields = ["code", "name", "short_name", "area__code", "area__name"]
    raw_id_fields = ["area"]
    list_select_related = ["area"]
    inlines = [ResponsibilityInline]

    def get_readonly_fields(self, request, obj=None):
        return ["area"] if obj is not None else []

    def create_via_service(self, request, obj, form):
        data = form.cleaned_data
        return services.create_department(
            actor=request.user,
            area=data["area"],
            code=data["code"],
            name=data["name"],
            short_name=data.get("short_name", ""),
            kind=data["kind"],
            office_phone=data.get("office_phone", ""),
            active=data.get("active", True),
        )

    def update_via_service(self, request, obj, form):
        data = form.cleaned_data
        return services.update_department(
            obj,
            actor=request.user,
            code=data["code"],
            name=data["name"],
            short_name=data["short_name"],
            kind=data["kind"],
            office_phone=data["office_phone"],
            active=data["active"],
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is not Responsibility:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if not formset.has_changed():
            return None
        entries, kept = [], []
        for inline_form in formset.forms:
            data = getattr(inline_form, "cleaned_data", None)
            if not data or not data.get("category"):
                continue
            if data.get("DELETE"):
                if inline_form.instance.pk:
                    formset.deleted_objects.append(inline_form.instance)
                continue
            entries.append(services.CatalogueEntry(data["category"], data.get("lead", True), data.get("note", "")))
            kept.append(inline_form)
        rows = services.set_catalogue(form.instance, actor=request.user, entries=entries)
        for inline_form, row in zip(kept, rows, strict=True):
            if inline_form.instance.pk is None:
                formset.new_objects.append(row)
            elif inline_form.has_changed():
                formset.changed_objects.append((row, inline_form.changed_data))
        return None


@admin.register(Responsibility)
class ResponsibilityAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    admin_scope_path = "department__area__path"
    """The whole catalogue at a glance; lines are edited on their department's page."""

    list_display = ["department", "department_area", "category", "lead", "note"]
    list_filter = ["lead", "category__scheme"]
    search_fields = ["department__name", "department__code", "category__code", "category__name"]
    list_select_related = ["department__area", "category"]
    show_full_result_count = False

    @admin.display(description=_("area"), ordering="department__area__code")
    def department_area(self, obj):
        return obj.department.area


@admin.register(Membership)
class MembershipAdmin(ScopedAdminMixin, ServiceModelAdmin):
    """Who works for which department (the reach of a department's dispatches). Ended, never deleted."""

    admin_scope_path = "department__area__path"
    list_display = ["user", "department", "valid_from", "valid_to"]
    list_filter = ["department__kind"]
    search_fields = ["user__username", "department__name", "department__code"]
    raw_id_fields = ["user", "department"]
    list_select_related = ["user", "department"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "department", "valid_from"] if obj is not None else []

    def create_via_service(self, request, obj, form):
        return services.add_member(
            actor=request.user,
            user=obj.user,
            department=obj.department,
            valid_from=obj.valid_from,
            valid_to=obj.valid_to,
        )

    def update_via_service(self, request, obj, form):
        return services.end_member(obj, actor=request.user, valid_to=obj.valid_to)
