"""The in-app inbox (`Notification`, one row per recipient) and outbound deliveries (`Delivery`, one row per
notification and configured channel) (ADR 0012).

A notification names what happened by a stable ``kind`` code and points at its object (``target_type``,
``target_id``); its title and body never carry personal data (names, phone numbers, ID numbers): a recipient
opens the target, where the usual scoping and masking apply.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fengqiao.areas.models import Area

KIND_RE = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(
        _("kind"),
        max_length=64,
        validators=[RegexValidator(KIND_RE)],
        help_text=_("stable dotted code of what happened, e.g. matter.dispatched"),
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), max_length=2000, blank=True)
    target_type = models.CharField(
        _("target type"), max_length=64, blank=True, help_text=_("app label and model, e.g. matters.matter")
    )
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    area = models.ForeignKey(
        Area, verbose_name=_("area"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notif_inbox_idx"),
            models.Index(
                fields=["recipient", "-created_at"],
                name="notif_unread_idx",
                condition=models.Q(read_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk}"

    @property
    def target(self):
        """``(target_type, target_id)``, or None when the notification points at nothing."""
        return (self.target_type, self.target_id) if self.target_type else None


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("delivery status", "pending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed, will retry")
    GAVE_UP = "gave_up", _("gave up")


class Delivery(models.Model):
    """One notification sent through one outbound channel. Attempts are claimed, made outside any transaction
    and recorded (`notifications.delivery`); a delivery that is sent or given up is never attempted again."""

    notification = models.ForeignKey(
        Notification, verbose_name=_("notification"), on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(_("channel"), max_length=40)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    queued_until = models.DateTimeField(
        _("queued until"),
        null=True,
        blank=True,
        help_text=_("a delivery task is queued for it; the retry sweep leaves it alone until then"),
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="delivery_one_per_channel"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]

    def __str__(self):
        return f"{self.channel} #{self.notification_id}"
