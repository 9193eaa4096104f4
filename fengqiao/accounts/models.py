"""Users, the roles they hold over area subtrees, and grid members' grids (ADR 0009).

A role is never held globally: it is granted over an area and everything below it for a period
(`AreaAssignment`). A grid member or informant is, in addition, assigned to the grids they patrol
(`GridAssignment`). Periods are inclusive dates; an assignment is ended (``valid_to``), never deleted.
"""

import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CITIZEN = "citizen", _("citizen")
    GRID_MEMBER = "grid_member", _("grid member")
    INFORMANT = "informant", _("informant")
    CENTRE_STAFF = "centre_staff", _("centre staff")
    DEPARTMENT_STAFF = "department_staff", _("department staff")
    MEDIATOR = "mediator", _("mediator")
    LEADER = "leader", _("leader")
    VOLUNTEER = "volunteer", _("volunteer")
    ADMINISTRATOR = "administrator", _("administrator")
    SYSTEM_ADMIN = "system_admin", _("system administrator")
    SECURITY_ADMIN = "security_admin", _("security administrator")
    AUDIT_ADMIN = "audit_admin", _("audit administrator")


# 三权分立: no user holds two of these at the same time.
SEPARATED_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})


class MemberKind(models.TextChoices):
    FULL_TIME = "full_time", _("full-time (专职)")
    PROFESSIONAL = "professional", _("professional (专业)")
    PART_TIME = "part_time", _("part-time (兼职)")


def current_q(on: datetime.date | None = None, prefix: str = "") -> Q:
    """Rows whose inclusive period [valid_from, valid_to] contains `on` (default today)."""
    on = on or timezone.localdate()
    return Q(**{f"{prefix}valid_from__lte": on}) & (
        Q(**{f"{prefix}valid_to__isnull": True}) | Q(**{f"{prefix}valid_to__gte": on})
    )


def now():
    """`timezone.now`, looked up when called (a field default bound to it directly would not follow a test's clock)."""
    return timezone.now()


class User(AbstractUser):
    """A person who signs in. What they may see and do comes from their current `AreaAssignment`s."""

    # 等保 level 3: staff change their password every PASSWORD_MAX_AGE_DAYS (fengqiao.security.policy).
    password_changed_at = models.DateTimeField(
        _("password changed at"), default=now, help_text=_("set whenever a new password is set")
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def save(self, *args, **kwargs):
        # `set_password` leaves the raw password in `_password` until the save (Django's own contract).
        update_fields = kwargs.get("update_fields")
        if self._password is not None and (update_fields is None or "password" in update_fields):
            self.password_changed_at = timezone.now()
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "password_changed_at"}
        super().save(*args, **kwargs)


class AssignmentQuerySet(models.QuerySet):
    def current(self, on: datetime.date | None = None):
        return self.filter(current_q(on))


class AreaAssignment(models.Model):
    """`user` holds `role` over `area` and its whole subtree from `valid_from` to `valid_to` (inclusive)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="area_assignments"
    )
    area = models.ForeignKey("areas.Area", verbose_name=_("area"), on_delete=models.PROTECT, related_name="+")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    valid_from = models.DateField(_("from"))
    valid_to = models.DateField(_("to"), null=True, blank=True, help_text=_("last day (inclusive); empty: open"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("area assignment")
        verbose_name_plural = _("area assignments")
        ordering = ["user", "-valid_from"]
        indexes = [models.Index(fields=["user", "valid_to"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="areaassignment_period_order",
            )
        ]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()} · {self.area}"

    def is_current(self, on: datetime.date | None = None) -> bool:
        on = on or timezone.localdate()
        return self.valid_from <= on and (self.valid_to is None or self.valid_to >= on)


class GridAssignment(models.Model):
    """A grid member (full-time, professional or part-time) or informant answers for `grid` for a period."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="grid_assignments"
    )
    grid = models.ForeignKey("areas.Grid", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="members")
    member_kind = models.CharField(_("member kind"), max_length=12, choices=MemberKind.choices)
    valid_from = models.DateField(_("from"))
    valid_to = models.DateField(_("to"), null=True, blank=True, help_text=_("last day (inclusive); empty: open"))
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("grid assignment")
        verbose_name_plural = _("grid assignments")
        ordering = ["grid", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="gridassignment_period_order",
            )
        ]

    def __str__(self):
        return f"{self.user} · {self.grid} ({self.get_member_kind_display()})"
