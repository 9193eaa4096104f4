from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

GENESIS = "0" * 64


class EventType(models.TextChoices):
    """What kind of thing happened: a stable enum (values are stored and exported; never rename one, only add).
    `action` stays the precise dotted name (``grid.update``); `event_type` is what auditors filter on."""

    CREATE = "create", _("create")
    UPDATE = "update", _("update")
    END = "end", _("end or retire")
    DELETE = "delete", _("delete")
    IMPORT = "import", _("import")
    EXPORT = "export", _("export")
    READ = "read", _("read of sensitive data")
    UNMASK = "unmask", _("unmask personal data")
    LOGIN = "login", _("login")
    LOGIN_FAILED = "login_failed", _("failed login")
    LOGOUT = "logout", _("logout")
    SECURITY = "security", _("security setting")
    PERMISSION = "permission", _("permission change")
    AUDIT = "audit", _("audit trail maintenance")
    OTHER = "other", _("other")


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValueError("audit events are append-only")

    def delete(self):
        raise ValueError("audit events are append-only")


class AuditEvent(models.Model):
    """One append-only row per write made through a service (ADR 0005), chained by hashes (ADR 0008): `hash` is
    sha256(prev_hash + canonical JSON of the row), `prev_hash` the hash of the row before. Never updated; deleted
    only by `audit prune` past the retention period."""

    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.PROTECT
    )
    actor_label = models.CharField(_("actor label"), max_length=150, help_text=_("user name or system process"))
    action = models.CharField(_("action"), max_length=64, db_index=True)
    event_type = models.CharField(
        _("event type"), max_length=16, choices=EventType.choices, default=EventType.OTHER, db_index=True
    )
    area = models.CharField(_("area"), max_length=15, blank=True, db_index=True, help_text=_("division code"))
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    summary = models.CharField(_("summary"), max_length=255, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    before = models.JSONField(_("old values"), null=True, blank=True)
    after = models.JSONField(_("new values"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    client_address = models.CharField(_("client address"), max_length=45, blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64, default=GENESIS)
    hash = models.CharField(_("hash"), max_length=64, default="")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return (
            f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"
        )

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")


class ChainHead(models.Model):
    """The single row (pk=1) that serialises appends (locked by `record`) and remembers the end of the chain, so
    that deleting the newest rows is noticed, and its start after pruning (the anchor)."""

    last_id = models.BigIntegerField(_("last event id"), default=0)
    last_hash = models.CharField(_("last hash"), max_length=64, default=GENESIS)
    anchor_id = models.BigIntegerField(_("anchor event id"), default=0, help_text=_("last pruned event"))
    anchor_hash = models.CharField(_("anchor hash"), max_length=64, default=GENESIS)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain heads")

    def __str__(self):
        return f"{self.anchor_id}..{self.last_id} {self.last_hash[:12]}"
