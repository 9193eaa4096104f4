"""Admin of notifications and their deliveries: read-only, for system administrators only (ADR 0012).

A notification belongs to its recipient, not to an area: area staff have no business reading other people's
inboxes, so these pages are not area-scoped (`accounts.admin_scope`) but closed to everyone whose scope is not
unrestricted (superusers and current system administrators, by the same `request_scope`). They serve operations:
finding failed deliveries and sending them again (`services.retry_deliveries`, audited).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy, ngettext

from fengqiao.accounts.scope import request_scope
from fengqiao.core.admin import ReadOnlyAdminMixin
from fengqiao.notifications import services
from fengqiao.notifications.models import Delivery, DeliveryStatus, Notification


class SystemAdminOnly(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only pages that only unrestricted users (superusers, system administrators) see."""

    def _unrestricted(self, request):
        return request_scope(request).unrestricted

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if self._unrestricted(request) else queryset.none()

    def has_module_permission(self, request):
        return self._unrestricted(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._unrestricted(request) and super().has_view_permission(request, obj)


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ["channel", "status", "attempts", "last_error", "next_attempt_at", "sent_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(SystemAdminOnly):
    list_display = ["created_at", "kind", "title", "recipient", "area", "target_type", "target_id", "read_at"]
    list_select_related = ["recipient", "area"]
    list_filter = ["kind"]
    search_fields = ["kind", "title", "target_id", "recipient__username"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [
        "recipient",
        "kind",
        "title",
        "body",
        "target_type",
        "target_id",
        "area",
        "created_at",
        "read_at",
    ]
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(SystemAdminOnly):
    list_display = ["id", "notification", "channel", "status", "attempts", "next_attempt_at", "sent_at", "last_error"]
    list_select_related = ["notification"]
    list_filter = ["status", "channel"]
    search_fields = ["channel", "last_error", "notification__kind"]
    show_full_result_count = False
    readonly_fields = [
        "notification",
        "channel",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "queued_until",
        "sent_at",
        "created_at",
    ]
    actions = ["retry"]

    def has_retry_permission(self, request):
        return self._unrestricted(request) and request.user.has_perm("notifications.change_delivery")

    @admin.action(description=gettext_lazy("Send the selected failed deliveries again"), permissions=["retry"])
    def retry(self, request, queryset):
        queued = services.retry_deliveries(
            actor=request.user, deliveries=queryset.filter(status__in=[DeliveryStatus.FAILED, DeliveryStatus.GAVE_UP])
        )
        self.message_user(
            request, ngettext("%d delivery queued again.", "%d deliveries queued again.", queued) % queued
        )
