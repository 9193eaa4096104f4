"""Filters shared by the API modules.

A filter whose value is the code of another row (an area, a grid layer, a category, a space type) is a
`CodeFilter`: an unknown code is a 400 naming the parameter and the value (``{"within": ["no area with code
…"]}``), never a silently empty list, and a malformed division code is a 400 too. Codes of retired rows are
known codes: history points at them.
"""

from django import forms
from django_filters import rest_framework as filters

from fengqiao.areas.codes import CODE_RE
from fengqiao.areas.models import Area


class CodeFormField(forms.CharField):
    """Cleans a code to the row of `queryset` with that code (None when empty)."""

    def __init__(self, *, queryset, noun, pattern=None, malformed=None, **kwargs):
        self.queryset, self.noun, self.pattern, self.malformed = queryset, noun, pattern, malformed
        super().__init__(**kwargs)

    def clean(self, value):
        code = super().clean(value)
        if not code:
            return None
        if self.pattern is not None and not self.pattern.match(code):
            raise forms.ValidationError(self.malformed.format(code=code), code="malformed")
        obj = self.queryset.filter(code=code).first()
        if obj is None:
            raise forms.ValidationError(f"no {self.noun} with code {code}", code="unknown")
        return obj


class CodeFilter(filters.CharFilter):
    """``<param>=<code>``: rows whose `field_name` is the row with that code; 400 when there is none."""

    field_class = CodeFormField

    def __init__(self, *args, queryset, noun, **kwargs):
        super().__init__(*args, queryset=queryset, noun=noun, **kwargs)


class AreaCodeFilter(CodeFilter):
    """``<param>=<division code>``: 12 digits (15 for a villager group); malformed or unknown codes are a 400."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("help_text", "division code")
        super().__init__(
            *args,
            queryset=Area.objects.all(),
            noun="area",
            pattern=CODE_RE,
            malformed="{code} is not a division code (12 digits, or 15 for a villager group)",
            **kwargs,
        )


class WithinFilter(AreaCodeFilter):
    """``within=<division code>``: the area and everything below it (by path prefix)."""

    def __init__(self, *args, path_field="area__path", **kwargs):
        self.path_field = path_field
        kwargs.setdefault("help_text", "division code: the area and its whole subtree")
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value is None:
            return qs
        return qs.filter(**{f"{self.path_field}__startswith": value.path})


class CurrentFilterSet(filters.FilterSet):
    """Lists show only current rows (valid_to is null) unless ``include_retired=true``. A detail route finds
    retired rows too: old records point at them."""

    include_retired = filters.BooleanFilter(
        method="keep", label="include retired", help_text="also list retired rows (default: current only)"
    )

    def keep(self, queryset, name, value):
        return queryset

    def is_detail(self):
        view = (getattr(self.request, "parser_context", None) or {}).get("view")
        return bool(getattr(view, "detail", False))

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.is_detail() and not self.form.cleaned_data.get("include_retired"):
            queryset = queryset.filter(valid_to__isnull=True)
        return queryset


def _scope_paths_by_model():
    """{model: scope path} for every scoped viewset on the router (built once; the router is fixed)."""
    global _SCOPE_PATHS
    if _SCOPE_PATHS is None:
        from fengqiao.api.v1 import router

        _SCOPE_PATHS = {}
        for _prefix, viewset, _basename in router.registry:
            path = getattr(viewset, "scope_path", None)
            queryset = getattr(viewset, "queryset", None)
            if isinstance(path, str) and path and queryset is not None:
                _SCOPE_PATHS.setdefault(queryset.model, path)
    return _SCOPE_PATHS


_SCOPE_PATHS = None


class ScopedFilterBackend(filters.DjangoFilterBackend):
    """Filters that name another row by id (`?person=`, `?household=`, `?centre=`, `?grid=`) accept only rows in
    the caller's scope, so an out-of-scope id gets the same 400 as an id that does not exist — never an empty
    list that would confirm it exists (ADR 0009)."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        from fengqiao.accounts.scope import request_scope

        scope = None
        for flt in filterset.filters.values():
            choices = getattr(flt, "queryset", None)
            if not isinstance(flt, filters.ModelChoiceFilter | filters.ModelMultipleChoiceFilter) or choices is None:
                continue
            model = choices.model if hasattr(choices, "model") else None
            path = _scope_paths_by_model().get(model)
            if path is None:
                continue
            scope = scope or request_scope(request)
            flt.queryset = scope.filter(choices if hasattr(choices, "filter") else model._default_manager.all(), path)
        return filterset
