from django.contrib import admin

from fengqiao.core.models import JobRun, Stamp


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    """Read-only: what the worker's periodic jobs did last (unscoped operational data)."""

    list_display = ["name", "last_started_at", "last_finished_at", "last_result", "next_run_at", "locked_by", "runs"]
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Stamp)
class StampAdmin(admin.ModelAdmin):
    """Read-only: the counters that invalidate per-process caches (operational data, no area)."""

    list_display = ["name", "value"]
    readonly_fields = ["name", "value"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdminMixin:
    """Shown, never added, edited or deleted here (records written by services, logs, imports). Put it first among
    the bases so that it wins over mixins that grant these permissions."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
