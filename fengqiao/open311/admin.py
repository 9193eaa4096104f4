"""Admin of the Open311 door (ADR 0014).

* **API keys** are issued by ``fengqiao open311-key create NAME`` (the key is shown once); here they are listed
  and revoked (through `services.revoke_key`, audited). The hash is never shown.
* **Service attributes** are reference data like the categories they belong to: plain saves, each audited.
* **Open311 requests** are read-only and scoped by their matter's area; the client's e-mail, device and account
  ids are not shown.
* **Open311 request updates** likewise: read-only, scoped by their matter's area, without the author's name,
  e-mail or phone (the step itself is on the matter's timeline).
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy, ngettext

from fengqiao.accounts.admin_scope import ScopedAdminMixin
from fengqiao.audit.admin import AuditedModelAdmin
from fengqiao.core.admin import ReadOnlyAdminMixin
from fengqiao.open311 import services
from fengqiao.open311.models import ApiKey, ServiceAttribute, ServiceRequest, ServiceRequestUpdate


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "created_at", "created_by", "revoked_at", "last_used_at", "state")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    exclude = ("key_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # issued by `fengqiao open311-key create`, which shows the key once

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_manage_permission(self, request):
        return request.user.has_perm("open311.change_apikey")

    @admin.display(description=gettext_lazy("state"))
    def state(self, obj):
        return obj.state

    @admin.action(description=gettext_lazy("Revoke the selected keys"), permissions=["manage"])
    def revoke(self, request, queryset):
        done = 0
        for api_key in queryset:
            try:
                services.revoke_key(actor=request.user, api_key=api_key)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{api_key}: {' '.join(exc.messages)}", messages.WARNING)
        self.message_user(request, ngettext("%d key revoked.", "%d keys revoked.", done) % done)


@admin.register(ServiceAttribute)
class ServiceAttributeAdmin(AuditedModelAdmin):
    list_display = ("category", "code", "datatype", "required", "order", "active")
    list_select_related = ["category"]
    list_filter = ("datatype", "required", "active")
    search_fields = ("code", "description", "category__code", "category__name")
    autocomplete_fields = ["category"]


@admin.register(ServiceRequest)
class ServiceRequestAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    admin_scope_path = "matter__area__path"
    list_display = ("matter", "service_code", "api_key", "received_at")
    list_select_related = ["matter", "api_key"]
    search_fields = ("matter__tracking_code", "service_code", "token")
    fields = ("matter", "api_key", "service_code", "address_id", "media_urls", "attributes", "received_at")
    readonly_fields = fields


@admin.register(ServiceRequestUpdate)
class ServiceRequestUpdateAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    admin_scope_path = "request__matter__area__path"
    list_display = ("request", "update_id", "status", "api_key", "client_updated_at", "received_at")
    list_select_related = ["request__matter", "api_key"]
    search_fields = ("request__matter__tracking_code", "update_id")
    fields = ("request", "api_key", "update_id", "event", "status", "client_updated_at", "media_url", "received_at")
    readonly_fields = fields
