"""Admin pages for login security. Nothing here is added or edited by hand: rows come from sign-ins and the
services, and the actions (unlock, reset a second factor, revoke a token) call the services, which audit.

Tokens are issued with `fengqiao token create` (the key is shown once, on the command line), not here.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy, ngettext

from fengqiao.security import clock
from fengqiao.security.models import ApiToken, Lockout, LoginFailure, PasswordHistory, RecoveryCode, TotpDevice
from fengqiao.security.services import lockout, otp, tokens


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # pages are read-only; the actions below need `manage`

    def has_manage_permission(self, request):
        """The actions (which call the services) need the model's change permission."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def has_delete_permission(self, request, obj=None):
        return False

    def _run(self, request, queryset, service, done_message):
        done = 0
        for obj in queryset:
            try:
                service(obj)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{obj}: {' '.join(exc.messages)}", messages.WARNING)
        self.message_user(request, done_message(done))


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "user", "name", "created_at", "expires_at", "revoked_at", "last_used_at", "state")
    list_select_related = ["user"]
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    exclude = ("key_hash",)
    actions = ["revoke"]

    @admin.display(description=gettext_lazy("state"))
    def state(self, obj):
        return obj.state(clock.now())

    @admin.action(description=gettext_lazy("Revoke the selected tokens"), permissions=["manage"])
    def revoke(self, request, queryset):
        def done(n):
            return ngettext("%d token revoked.", "%d tokens revoked.", n) % n

        self._run(request, queryset, lambda t: tokens.revoke(actor=request.user, token=t), done)


@admin.register(Lockout)
class LockoutAdmin(ReadOnlyAdmin):
    list_display = ("scope", "value", "failures", "locked_at", "locked_until", "unlocked_at", "unlocked_by")
    list_filter = ("scope",)
    search_fields = ("value",)
    actions = ["unlock"]

    @admin.action(description=gettext_lazy("Unlock sign-in"), permissions=["manage"])
    def unlock(self, request, queryset):
        def done(n):
            return ngettext("%d lockout ended.", "%d lockouts ended.", n) % n

        self._run(request, queryset, lambda lock: lockout.unlock(actor=request.user, lockout=lock), done)


@admin.register(LoginFailure)
class LoginFailureAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "username", "address", "reason")
    list_filter = ("reason",)
    search_fields = ("username", "address")


@admin.register(TotpDevice)
class TotpDeviceAdmin(ReadOnlyAdmin):
    list_display = ("user", "created_at", "confirmed_at")
    list_select_related = ["user"]
    search_fields = ("user__username",)
    exclude = ("secret",)
    actions = ["reset"]

    @admin.action(
        description=gettext_lazy("Reset the second factor (set up again at next sign-in)"), permissions=["manage"]
    )
    def reset(self, request, queryset):
        def done(n):
            return ngettext("%d second factor reset.", "%d second factors reset.", n) % n

        self._run(request, queryset, lambda device: otp.reset(actor=request.user, user=device.user), done)


@admin.register(RecoveryCode)
class RecoveryCodeAdmin(ReadOnlyAdmin):
    list_display = ("user", "created_at", "used_at")
    list_select_related = ["user"]
    search_fields = ("user__username",)
    exclude = ("code_hash",)


@admin.register(PasswordHistory)
class PasswordHistoryAdmin(ReadOnlyAdmin):
    list_display = ("user", "set_at")
    list_select_related = ["user"]
    search_fields = ("user__username",)
    exclude = ("password_hash",)
