"""Admin of the working-day calendar's override table: national reference data, so not scoped by area (like
categories and grid layers). Saves and deletes go through `workdays.services`, so each writes an audit event."""

from django import forms
from django.contrib import admin
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from fengqiao.audit.admin import ServiceModelAdmin
from fengqiao.workdays import services
from fengqiao.workdays.models import CalendarOverride


class CalendarOverrideForm(forms.ModelForm):
    class Meta:
        model = CalendarOverride
        fields = ["date", "kind", "name", "note"]


class YearFilter(admin.SimpleListFilter):
    title = _("year")
    parameter_name = "year"

    def lookups(self, request, model_admin):
        years = CalendarOverride.objects.dates("date", "year", order="DESC")
        return [(str(day.year), str(day.year)) for day in years]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(date__year=int(value))
        return queryset


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(ServiceModelAdmin):
    form = CalendarOverrideForm
    list_display = ["date", "weekday", "kind", "name", "note", "updated_at"]
    list_filter = [YearFilter, "kind"]
    search_fields = ["name", "note"]
    date_hierarchy = "date"
    ordering = ["-date"]

    def get_readonly_fields(self, request, obj=None):
        return ["date"] if obj is not None else []

    @admin.display(description=_("weekday"), ordering="date")
    def weekday(self, obj):
        return WEEKDAYS[obj.date.weekday()]

    def has_delete_permission(self, request, obj=None):
        # Overrides are deleted (a wrongly entered day falls back to the package or to weekends), through the service.
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def create_via_service(self, request, obj, form):
        data = form.cleaned_data
        return services.create_override(
            actor=request.user, date=data["date"], kind=data["kind"], name=data["name"], note=data.get("note", "")
        )

    def update_via_service(self, request, obj, form):
        data = form.cleaned_data
        return services.update_override(
            obj, actor=request.user, kind=data["kind"], name=data["name"], note=data.get("note", "")
        )

    def delete_model(self, request, obj):
        services.delete_override(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.delete_override(obj, actor=request.user)
