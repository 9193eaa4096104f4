"""Filters shared by the API modules."""

from django_filters import rest_framework as filters

from fengqiao.areas.models import Area


def area_path(code):
    """The path of the area with `code`, or None."""
    return Area.objects.filter(code=code).values_list("path", flat=True).first()


class CurrentFilterSet(filters.FilterSet):
    """Only current rows (valid_to is null) unless ``include_retired=true``."""

    include_retired = filters.BooleanFilter(
        method="keep", label="include retired", help_text="also list retired rows (default: current only)"
    )

    def keep(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("include_retired"):
            queryset = queryset.filter(valid_to__isnull=True)
        return queryset


class WithinFilter(filters.CharFilter):
    """``within=<area code>``: the area and everything below it (by path prefix)."""

    def __init__(self, *args, path_field="area__path", **kwargs):
        self.path_field = path_field
        kwargs.setdefault("help_text", "area code: the area and its whole subtree")
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in ("", None):
            return qs
        path = area_path(value.strip())
        if path is None:
            return qs.none()
        return qs.filter(**{f"{self.path_field}__startswith": path})
