"""Admin of governance centres, service spaces, the roster and the reception log. Saves go through
`centres.services`; forms run the services' `check_*` rules first so mistakes show as form errors.

The reception log shows visitor names and phone numbers masked; the plaintext fields appear only on the form
that logs a new visit.
"""

import datetime

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fengqiao.accounts.admin_scope import ScopedAdminMixin
from fengqiao.audit.admin import AuditedModelAdmin, ServiceModelAdmin
from fengqiao.centres import services
from fengqiao.centres.models import Centre, Reception, ServiceSpace, SpaceType, Stationing
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.masking import mask_name, mask_phone


def _add_errors(form, exc: ValidationError):
    for field, messages in exc.message_dict.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)


# --- forms -----------------------------------------------------------------------------------------------


class CentreForm(forms.ModelForm):
    class Meta:
        model = Centre
        fields = ["area", "name", "address", "duty_phone", "opened_on", "floor_area_m2", "active"]

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and cleaned.get("area") is not None:
            try:
                services.check_centre_area(cleaned["area"])
            except ValidationError as exc:
                _add_errors(self, exc)
        return cleaned


class SpaceForm(forms.ModelForm):
    class Meta:
        model = ServiceSpace
        fields = ["centre", "space_type", "name", "seats", "active"]

    def clean(self):
        cleaned = super().clean()
        centre = cleaned.get("centre") or (self.instance.centre if self.instance.centre_id else None)
        space_type = cleaned.get("space_type")
        if centre is not None and centre.pk and space_type is not None and cleaned.get("active", True):
            try:
                services.check_space(centre, space_type, space=self.instance)
            except ValidationError as exc:
                _add_errors(self, exc)
        return cleaned


class StationingForm(forms.ModelForm):
    """New stationings are checked like `station_staff`; on an existing one only the duty, the space and an
    earlier end date can change."""

    FIXED = ("centre", "department", "staff", "valid_from")

    class Meta:
        model = Stationing
        fields = ["centre", "department", "staff", "duty", "space", "valid_from", "valid_to"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name in self.FIXED:
                if name in self.fields:
                    self.fields[name].disabled = True

    def clean(self):
        cleaned = super().clean()
        centre = cleaned.get("centre") or (self.instance.centre if self.instance.centre_id else None)
        if self.instance.pk:
            old, new = self.instance.valid_to, cleaned.get("valid_to")
            if old != new:
                if new is None:
                    self.add_error("valid_to", _("An ended stationing cannot be reopened; add a new one."))
                elif new < self.instance.valid_from:
                    self.add_error("valid_to", _("The end date is before the start date."))
                elif old is not None and new > old:
                    self.add_error("valid_to", _("An end date can only move earlier."))
            space = cleaned.get("space")
            if space is not None and centre is not None and space.centre_id != centre.pk:
                self.add_error("space", _("The space belongs to another centre."))
            return cleaned
        required = ("department", "staff", "valid_from")
        if centre is None or centre.pk is None or any(cleaned.get(name) is None for name in required):
            return cleaned
        try:
            services.check_stationing(
                centre=centre,
                department=cleaned["department"],
                staff=cleaned["staff"],
                valid_from=cleaned["valid_from"],
                valid_to=cleaned.get("valid_to"),
                space=cleaned.get("space"),
            )
        except ValidationError as exc:
            _add_errors(self, exc)
        return cleaned


class StationingFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        periods = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or not form.has_changed() or form.instance.pk or not data.get("staff"):
                continue
            start, end = data.get("valid_from"), data.get("valid_to") or datetime.date.max
            if start is None:
                continue
            for staff, other_start, other_end in periods:
                if staff == data["staff"] and start <= other_end and other_start <= end:
                    raise ValidationError(_("The same person is entered twice for overlapping periods."))
            periods.append((data["staff"], start, end))


class SpaceFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        halls = 0
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if data and data.get("space_type") is not None and data["space_type"].is_hall and data.get("active"):
                halls += 1
        if halls > 1:
            raise ValidationError(_("A centre has one reception hall."))


# --- inlines and admins ----------------------------------------------------------------------------------


class SpaceInline(admin.TabularInline):
    model = ServiceSpace
    form = SpaceForm
    formset = SpaceFormSet
    fields = ["space_type", "name", "seats", "active"]
    extra = 0
    can_delete = False


class StationingInline(admin.TabularInline):
    model = Stationing
    form = StationingForm
    formset = StationingFormSet
    fields = ["department", "staff", "duty", "space", "valid_from", "valid_to"]
    raw_id_fields = ["department", "staff"]
    extra = 0
    can_delete = False

    def get_formset(self, request, obj=None, **kwargs):
        self._parent = obj
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "space":
            parent = getattr(self, "_parent", None)
            kwargs["queryset"] = ServiceSpace.objects.filter(centre=parent) if parent else ServiceSpace.objects.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _save_space(request, centre, form, is_new):
    data = form.cleaned_data
    if is_new:
        return services.add_space(
            actor=request.user,
            centre=centre,
            space_type=data["space_type"],
            name=data.get("name", ""),
            seats=data.get("seats"),
            active=data.get("active", True),
        )
    return services.update_space(
        form.instance,
        actor=request.user,
        name=data.get("name"),
        space_type=data.get("space_type"),
        seats=data.get("seats"),
        active=data.get("active"),
    )


def _save_stationing(request, centre, form, is_new):
    data = form.cleaned_data
    if is_new:
        return services.station_staff(
            actor=request.user,
            centre=centre,
            department=data["department"],
            staff=data["staff"],
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            duty=data.get("duty", ""),
            space=data.get("space"),
        )
    stationing = form.instance
    original = Stationing.objects.get(pk=stationing.pk)
    stationing = services.update_stationing(
        original,
        actor=request.user,
        duty=data.get("duty", ""),
        space=data.get("space"),
        clear_space=data.get("space") is None,
    )
    if "valid_to" in form.changed_data and data.get("valid_to") is not None:
        stationing = services.end_stationing(stationing, actor=request.user, valid_to=data["valid_to"])
    return stationing


@admin.register(Centre)
class CentreAdmin(ScopedAdminMixin, ServiceModelAdmin):
    admin_scope_path = "area__path"
    form = CentreForm
    list_display = ["name", "area", "level", "opened_on", "floor_area_m2", "active"]
    list_filter = ["active", "area__level"]
    search_fields = ["name", "area__code", "area__name"]
    raw_id_fields = ["area"]
    list_select_related = ["area"]
    inlines = [SpaceInline, StationingInline]

    def get_readonly_fields(self, request, obj=None):
        return ["area"] if obj is not None else []

    @admin.display(description=_("level"), ordering="area__level")
    def level(self, obj):
        return obj.area.get_level_display()

    def create_via_service(self, request, obj, form):
        data = form.cleaned_data
        return services.create_centre(
            actor=request.user,
            area=data["area"],
            name=data["name"],
            address=data.get("address", ""),
            duty_phone=data.get("duty_phone", ""),
            opened_on=data.get("opened_on"),
            floor_area_m2=data.get("floor_area_m2"),
            active=data.get("active", True),
        )

    def update_via_service(self, request, obj, form):
        data = form.cleaned_data
        return services.update_centre(
            obj,
            actor=request.user,
            name=data["name"],
            address=data["address"],
            duty_phone=data["duty_phone"],
            opened_on=data.get("opened_on"),
            floor_area_m2=data.get("floor_area_m2"),
            active=data["active"],
        )

    def save_servicespace_inline(self, request, centre, form, is_new):
        return _save_space(request, centre, form, is_new)

    def save_stationing_inline(self, request, centre, form, is_new):
        return _save_stationing(request, centre, form, is_new)


@admin.register(SpaceType)
class SpaceTypeAdmin(AuditedModelAdmin):
    list_display = ["code", "name", "is_hall", "order"]
    list_editable = ["order"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj is not None else []


@admin.register(ServiceSpace)
class ServiceSpaceAdmin(ScopedAdminMixin, ServiceModelAdmin):
    admin_scope_path = "centre__area__path"
    form = SpaceForm
    list_display = ["name", "centre", "space_type", "seats", "active"]
    list_filter = ["space_type", "active"]
    search_fields = ["name", "centre__name", "centre__area__code"]
    raw_id_fields = ["centre"]
    list_select_related = ["centre", "space_type"]

    def get_readonly_fields(self, request, obj=None):
        return ["centre"] if obj is not None else []

    def create_via_service(self, request, obj, form):
        return _save_space(request, form.cleaned_data["centre"], form, True)

    def update_via_service(self, request, obj, form):
        return _save_space(request, obj.centre, form, False)


@admin.register(Stationing)
class StationingAdmin(ScopedAdminMixin, ServiceModelAdmin):
    admin_scope_path = "centre__area__path"
    form = StationingForm
    list_display = ["staff", "centre", "department", "duty", "valid_from", "valid_to"]
    list_filter = ["department__kind", "valid_to"]
    search_fields = ["staff__username", "staff__first_name", "staff__last_name", "centre__name", "department__name"]
    raw_id_fields = ["centre", "department", "staff", "space"]
    list_select_related = ["staff", "centre", "department"]
    date_hierarchy = "valid_from"

    def create_via_service(self, request, obj, form):
        return _save_stationing(request, form.cleaned_data["centre"], form, True)

    def update_via_service(self, request, obj, form):
        return _save_stationing(request, obj.centre, form, False)


class ReceptionForm(forms.ModelForm):
    class Meta:
        model = Reception
        fields = [
            "centre",
            "received_at",
            "visitor_name",
            "visitor_phone",
            "headcount",
            "purpose",
            "space",
            "department",
            "outcome",
        ]
        widgets = {"visitor_name": forms.TextInput, "visitor_phone": forms.TextInput}

    def clean(self):
        cleaned = super().clean()
        centre = cleaned.get("centre") or (self.instance.centre if self.instance.centre_id else None)
        if centre is not None and centre.pk:
            try:
                services.check_reception(
                    centre=centre,
                    space=cleaned.get("space"),
                    department=cleaned.get("department"),
                    outcome=cleaned.get("outcome", ""),
                )
            except ValidationError as exc:
                _add_errors(self, exc)
        return cleaned


@admin.register(Reception)
class ReceptionAdmin(ScopedAdminMixin, ServiceModelAdmin):
    admin_scope_path = "centre__area__path"
    """Visitor name and phone are shown masked; the plaintext is typed in once, when the visit is logged.
    Searching for a complete phone number finds the visits through the keyed hash."""

    form = ReceptionForm
    list_display = ["received_at", "centre", "masked_name", "masked_phone", "headcount", "outcome", "department"]
    list_filter = ["outcome"]
    search_fields = ["centre__name", "purpose"]
    raw_id_fields = ["centre", "space", "department", "received_by"]
    list_select_related = ["centre", "department"]
    date_hierarchy = "received_at"
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                "centre",
                "received_at",
                "visitor_name",
                "visitor_phone",
                "headcount",
                "purpose",
                "space",
                "department",
                "outcome",
            ]
        return [
            "centre",
            "received_at",
            "masked_name",
            "masked_phone",
            "headcount",
            "purpose",
            "space",
            "department",
            "outcome",
            "received_by",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["centre", "received_at", "masked_name", "masked_phone", "received_by"]

    def get_changeform_initial_data(self, request):
        return {"received_at": timezone.now(), **super().get_changeform_initial_data(request)}

    @admin.display(description=_("visitor name"))
    def masked_name(self, obj):
        return mask_name(obj.visitor_name) or "—"

    @admin.display(description=_("visitor phone"))
    def masked_phone(self, obj):
        return mask_phone(obj.visitor_phone) or "—"

    def get_search_results(self, request, queryset, search_term):
        digits = "".join(search_term.split())
        if digits.isdigit() and len(digits) >= 7:
            return queryset.filter(visitor_phone_hash=lookup_hash(digits)), False
        return super().get_search_results(request, queryset, search_term)

    def create_via_service(self, request, obj, form):
        data = form.cleaned_data
        return services.log_reception(
            actor=request.user,
            centre=data["centre"],
            received_at=data.get("received_at"),
            visitor_name=data.get("visitor_name", ""),
            visitor_phone=data.get("visitor_phone", ""),
            headcount=data.get("headcount") or 1,
            purpose=data["purpose"],
            space=data.get("space"),
            department=data.get("department"),
            outcome=data["outcome"],
        )

    def update_via_service(self, request, obj, form):
        data = form.cleaned_data
        return services.update_reception(
            obj,
            actor=request.user,
            purpose=data.get("purpose"),
            headcount=data.get("headcount"),
            space=data.get("space"),
            department=data.get("department"),
            outcome=data.get("outcome"),
        )
