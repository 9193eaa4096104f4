"""Read-only admins of the registers: personal values are shown masked only. Writes go through the API (and its
services); the plaintext is seen only through the audited unmask action. Searching for a complete ID number or
phone number finds persons through the keyed hashes."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from fengqiao.accounts.admin_scope import ScopedAdminMixin
from fengqiao.accounts.scope import request_scope
from fengqiao.core.admin import ReadOnlyAdminMixin
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.identity import IdentityError, normalise_phone
from fengqiao.core.masking import mask, mask_id_number, mask_name, mask_phone
from fengqiao.people import selectors, services
from fengqiao.people.models import (
    Building,
    Household,
    Organisation,
    Person,
    PersonIdentityConflict,
    Place,
    SpecialCare,
)


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    show_full_result_count = False


@admin.register(Household)
class HouseholdAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    admin_scope_path = "area__path"
    list_display = ["number", "area", "grid", "masked_address"]
    fields = readonly_fields = ["area", "grid", "number", "masked_address"]
    search_fields = ["number"]
    list_select_related = ["area", "grid"]

    @admin.display(description=_("address"))
    def masked_address(self, obj):
        return mask(obj.address, 6, 0) or "—"


@admin.register(Person)
class PersonAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    admin_scope_path = "area__path"
    list_display = ["masked_name", "area", "residence_type", "masked_id_number", "masked_phone", "sex"]
    fields = readonly_fields = [
        "area",
        "grid",
        "household",
        "relationship",
        "residence_type",
        "masked_name",
        "masked_id_number",
        "birth_year",
        "sex",
        "masked_phone",
        "ethnicity",
    ]
    list_filter = ["residence_type", "sex"]
    list_select_related = ["area"]
    search_fields = ["ethnicity"]

    @admin.display(description=_("year of birth"))
    def birth_year(self, obj):
        # the year only: with the masked ID number (6+4) the whole date would give the number back
        return obj.birth_date.year if obj.birth_date else "—"

    @admin.display(description=_("name"))
    def masked_name(self, obj):
        return mask_name(obj.name) or "—"

    @admin.display(description=_("ID number"))
    def masked_id_number(self, obj):
        return mask_id_number(obj.id_number) or "—"

    @admin.display(description=_("phone"))
    def masked_phone(self, obj):
        return mask_phone(obj.phone) or "—"

    def get_search_results(self, request, queryset, search_term):
        term = "".join(search_term.split()).upper()
        if len(term) == 18:
            return queryset.filter(id_number_hash=lookup_hash(term)), False
        if len(term) >= 7:
            try:
                return queryset.filter(phone_hash=lookup_hash(normalise_phone(term))), False
            except IdentityError:
                pass
        return super().get_search_results(request, queryset, search_term)


@admin.register(Building)
class BuildingAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    admin_scope_path = "area__path"
    list_display = ["address", "area", "grid", "floors", "use"]
    list_filter = ["use"]
    search_fields = ["address"]


@admin.register(Place)
class PlaceAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    admin_scope_path = "area__path"
    list_display = ["name", "kind", "area", "safety_status", "safety_date"]
    list_filter = ["kind", "safety_status"]
    search_fields = ["name", "address"]


@admin.register(Organisation)
class OrganisationAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    admin_scope_path = "area__path"
    list_display = ["name", "kind", "area", "credit_code", "points"]
    list_filter = ["kind"]
    search_fields = ["name", "credit_code"]


@admin.register(SpecialCare)
class SpecialCareAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    """The details are never shown here (sensitive personal information); every page that shows records is an
    audited read, as in the API."""

    admin_scope_path = "person__area__path"
    list_select_related = ["person__area"]

    list_display = ["person", "category", "risk_level", "since", "retention_until"]
    fields = readonly_fields = ["person", "category", "risk_level", "since", "retention_until"]
    list_filter = ["category", "risk_level"]

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            services.record_care_reads(actor=request.user, records=changelist.result_list)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if getattr(response, "status_code", None) == 200:
            record = self.get_object(request, object_id)
            if record is not None:
                services.record_care_reads(actor=request.user, records=[record])
        return response


@admin.register(PersonIdentityConflict)
class PersonIdentityConflictAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    """Persons registered twice with one ID number by staff who could not see each other's record. Listed only to
    users whose scope covers both persons; anyone who may view persons there may review the list, and holders of
    `change_personidentityconflict` may mark pairs resolved (after correcting the records)."""

    admin_scope_path = "person__area__path"
    list_display = ["created_at", "area", "existing_record", "new_record", "resolved_at", "resolved_by"]
    fields = readonly_fields = list_display
    list_filter = [("resolved_at", admin.EmptyFieldListFilter)]
    list_select_related = ["area", "person__area", "existing__area"]
    actions = ["resolve"]

    def get_queryset(self, request):
        # the new record's area by the mixin, the earlier record's here: both must lie in the scope
        return selectors.identity_conflicts(request_scope(request), super().get_queryset(request))

    def has_view_permission(self, request, obj=None):
        user = request.user
        return user.has_perm("people.view_personidentityconflict") or user.has_perm("people.view_person")

    def has_resolve_permission(self, request):
        return request.user.has_perm("people.change_personidentityconflict")

    @admin.display(description=_("earlier record"))
    def existing_record(self, obj):
        return f"{obj.existing} · {obj.existing.area.name} · #{obj.existing_id}"

    @admin.display(description=_("new record"))
    def new_record(self, obj):
        return f"{obj.person} · {obj.person.area.name} · #{obj.person_id}"

    @admin.action(description=_("Mark as resolved"), permissions=["resolve"])
    def resolve(self, request, queryset):
        done = 0
        for conflict in queryset.filter(resolved_at__isnull=True):
            services.resolve_identity_conflict(conflict, actor=request.user)
            done += 1
        self.message_user(request, _("%(count)d conflicts marked as resolved.") % {"count": done})
