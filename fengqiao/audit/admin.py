"""Admin of the audit trail (read-only) and the base classes every app's admin builds on, so that admin writes
follow the house rule: through a service when one exists, and with an audit event in every case."""

from django.contrib import admin

from fengqiao.audit import services as audit
from fengqiao.audit.models import AuditEvent, ChainHead
from fengqiao.core.admin import ReadOnlyAdminMixin


def adopt(target, saved):
    """Copy the object a service saved into the instance the admin holds (the admin keeps using its own for
    the change message and the redirect)."""
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


class AuditedModelAdmin(admin.ModelAdmin):
    """For models without a service (reference data): plain saves, each with an audit event."""

    def _record(self, request, obj, verb, fields=()):
        audit.record(
            actor=request.user,
            action=f"{obj._meta.model_name}.{verb}",
            obj=obj,
            summary=str(obj),
            data={"via": "admin", "fields": list(fields)},
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._record(request, obj, "update" if change else "create", form.changed_data)

    def delete_model(self, request, obj):
        self._record(request, obj, "delete")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._record(request, obj, "delete")
        super().delete_queryset(request, queryset)


class ServiceModelAdmin(admin.ModelAdmin):
    """For models with services: `save_model` calls `create_via_service` / `update_via_service`, and an inline
    of model ``foo`` is saved by a method ``save_foo_inline(request, parent, form, is_new)`` when the admin
    defines one. Nothing is deleted through these admins (objects are deactivated or ended instead)."""

    def has_delete_permission(self, request, obj=None):
        return False

    def create_via_service(self, request, obj, form):
        raise NotImplementedError

    def update_via_service(self, request, obj, form):
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        saved = self.update_via_service(request, obj, form) if change else self.create_via_service(request, obj, form)
        adopt(obj, saved)

    def save_formset(self, request, form, formset, change):
        handler = getattr(self, f"save_{formset.model._meta.model_name}_inline", None)
        if handler is None:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed():
                continue
            is_new = inline_form.instance.pk is None
            obj = handler(request, form.instance, inline_form, is_new)
            if is_new:
                formset.new_objects.append(obj)
            else:
                formset.changed_objects.append((obj, inline_form.changed_data))
        return None


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "actor_label", "event_type", "action", "area", "object_type", "object_id", "summary"]
    list_filter = ["event_type", "action", "object_type"]
    search_fields = ["object_id", "summary", "actor_label", "request_id", "area", "client_address"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    readonly_fields = [
        "occurred_at",
        "actor",
        "actor_label",
        "action",
        "event_type",
        "area",
        "object_type",
        "object_id",
        "summary",
        "data",
        "before",
        "after",
        "request_id",
        "client_address",
        "prev_hash",
        "hash",
    ]


@admin.register(ChainHead)
class ChainHeadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The end and the anchor of the hash chain (ADR 0008): shown, never edited here."""

    list_display = ["last_id", "last_hash", "anchor_id", "anchor_hash"]
    readonly_fields = list_display
