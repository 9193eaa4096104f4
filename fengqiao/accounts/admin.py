"""Admin of users with their area assignments (inline), and of grid assignments. Grants and ends go through
`accounts.services` (audit event, 三权分立 and period checks), whose rules run in the forms' `clean` first so
mistakes show as form errors. Nothing is deleted: an assignment is ended by setting its last day.

Roles come from the assignments, not from groups: the role groups (``role:*``) are not offered in a user's
groups, since membership of them grants nothing (`accounts.backends`)."""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fengqiao.accounts import services
from fengqiao.accounts.admin_scope import ScopedAdminMixin
from fengqiao.accounts.models import AreaAssignment, GridAssignment, User
from fengqiao.accounts.roles import GROUP_PREFIX
from fengqiao.audit import services as audit
from fengqiao.audit.admin import ServiceModelAdmin
from fengqiao.audit.models import EventType


def _add_errors(form, exc: ValidationError):
    for field, messages in exc.message_dict.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


class AreaAssignmentForm(forms.ModelForm):
    class Meta:
        model = AreaAssignment
        fields = ["area", "role", "valid_from", "valid_to", "note"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if self.instance.pk is None:
            try:
                services.check_area_assignment(
                    self.instance.user,
                    cleaned.get("area"),
                    cleaned.get("role"),
                    cleaned.get("valid_from"),
                    cleaned.get("valid_to"),
                )
            except ValidationError as exc:
                _add_errors(self, exc)
        elif set(self.changed_data) - {"valid_to"}:
            raise ValidationError(_("Only the last day of an assignment can change; grant a new one instead."))
        elif cleaned.get("valid_to") is None:
            self.add_error("valid_to", _("An assignment is ended by giving its last day."))
        else:
            current = AreaAssignment.objects.get(pk=self.instance.pk)
            try:
                services.check_end(current, cleaned["valid_to"])
            except ValidationError as exc:
                _add_errors(self, exc)
        return cleaned


class AreaAssignmentInline(admin.TabularInline):
    model = AreaAssignment
    form = AreaAssignmentForm
    fields = ["area", "role", "valid_from", "valid_to", "note"]
    raw_id_fields = ["area"]
    extra = 0
    can_delete = False


@admin.register(User)
class FengqiaoUserAdmin(UserAdmin):
    inlines = [AreaAssignmentInline]
    fieldsets = [*UserAdmin.fieldsets, (gettext_lazy("Password age"), {"fields": ["password_changed_at"]})]
    readonly_fields = ["password_changed_at"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs["queryset"] = Group.objects.exclude(name__startswith=GROUP_PREFIX)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def user_change_password(self, request, id, form_url=""):
        """Django's page for setting another user's password, audited in the same transaction."""
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            user = self.get_object(request, unquote(id)) if request.method == "POST" else None
            if user is not None and response.status_code == 302:  # the form was valid: the password was set
                audit.record(
                    actor=request.user,
                    action="accounts.user.password_set",
                    event_type=EventType.SECURITY,
                    obj=user,
                    summary=f"password of {user.get_username()} set by {request.user.get_username()}",
                    data={"user": user.pk, "usable": user.has_usable_password()},
                )
        return response

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # roles are granted once the user exists

    def save_formset(self, request, form, formset, change):
        if formset.model is not AreaAssignment:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline in formset.forms:
            if not inline.has_changed():
                continue
            data = inline.cleaned_data
            if inline.instance.pk is None:
                obj = services.grant_area_role(
                    actor=request.user,
                    user=form.instance,
                    area=data["area"],
                    role=data["role"],
                    valid_from=data["valid_from"],
                    valid_to=data.get("valid_to"),
                    note=data.get("note", ""),
                )
                formset.new_objects.append(obj)
            else:
                current = AreaAssignment.objects.get(pk=inline.instance.pk)
                obj = services.end_area_role(current, actor=request.user, valid_to=data["valid_to"])
                formset.changed_objects.append((obj, ["valid_to"]))
        return None


class AreaAssignmentAdminForm(AreaAssignmentForm):
    class Meta(AreaAssignmentForm.Meta):
        fields = ["user", *AreaAssignmentForm.Meta.fields]

    def clean(self):
        if self.instance.pk is None and self.cleaned_data.get("user") is not None:
            self.instance.user = self.cleaned_data["user"]
        return super().clean()


@admin.register(AreaAssignment)
class AreaAssignmentAdmin(ScopedAdminMixin, ServiceModelAdmin):
    admin_scope_path = "area__path"
    form = AreaAssignmentAdminForm
    list_display = ["user", "role", "area", "valid_from", "valid_to"]
    list_filter = ["role"]
    search_fields = ["user__username", "area__code", "area__name"]
    raw_id_fields = ["user", "area"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "area", "role", "valid_from", "note"] if obj is not None else []

    def create_via_service(self, request, obj, form):
        data = form.cleaned_data
        return services.grant_area_role(
            actor=request.user,
            user=data["user"],
            area=data["area"],
            role=data["role"],
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            note=data.get("note", ""),
        )

    def update_via_service(self, request, obj, form):
        current = AreaAssignment.objects.get(pk=obj.pk)
        return services.end_area_role(current, actor=request.user, valid_to=form.cleaned_data["valid_to"])


class GridAssignmentForm(forms.ModelForm):
    class Meta:
        model = GridAssignment
        fields = ["user", "grid", "member_kind", "valid_from", "valid_to"]

    def clean(self):
        cleaned = super().clean()
        if self.errors or self.instance.pk is not None:
            return cleaned
        try:
            services.check_grid_assignment(
                cleaned["user"], cleaned["grid"], cleaned["member_kind"], cleaned["valid_from"], cleaned.get("valid_to")
            )
        except ValidationError as exc:
            _add_errors(self, exc)
        return cleaned


@admin.register(GridAssignment)
class GridAssignmentAdmin(ScopedAdminMixin, ServiceModelAdmin):
    admin_scope_path = "grid__area__path"
    form = GridAssignmentForm
    list_display = ["user", "grid", "member_kind", "valid_from", "valid_to"]
    list_filter = ["member_kind"]
    search_fields = ["user__username", "grid__code", "grid__name"]
    raw_id_fields = ["user", "grid"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "grid", "member_kind", "valid_from"] if obj is not None else []

    def create_via_service(self, request, obj, form):
        data = form.cleaned_data
        return services.assign_grid(
            actor=request.user,
            user=data["user"],
            grid=data["grid"],
            member_kind=data["member_kind"],
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
        )

    def update_via_service(self, request, obj, form):
        current = GridAssignment.objects.get(pk=obj.pk)
        return services.end_grid_assignment(current, actor=request.user, valid_to=form.cleaned_data["valid_to"])
