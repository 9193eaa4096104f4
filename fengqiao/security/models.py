"""Login security (ADR 0010): failed sign-ins and lockouts, TOTP devices, recovery codes, expiring API tokens.

Secrets are never stored in the clear: the TOTP secret is encrypted (`EncryptedTextField`), recovery codes and
API token keys are stored only as keyed or plain SHA-256 hashes (both are long random strings).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.crypto import EncryptedTextField


class FailureReason(models.TextChoices):
    PASSWORD = "password", _("wrong user name or password")
    SECOND_FACTOR = "second_factor", _("wrong second-factor code")


class LoginFailure(models.Model):
    """One failed sign-in: the counter behind lockouts. The audit event is the permanent record."""

    username = models.CharField(_("user name"), max_length=150, blank=True)
    address = models.CharField(_("client address"), max_length=45, blank=True)
    reason = models.CharField(_("reason"), max_length=16, choices=FailureReason.choices)
    occurred_at = models.DateTimeField(_("occurred at"))

    class Meta:
        verbose_name = _("failed sign-in")
        verbose_name_plural = _("failed sign-ins")
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["username", "occurred_at"]),
            models.Index(fields=["address", "occurred_at"]),
        ]

    def __str__(self):
        return f"{self.username or '-'} @ {self.address or '-'} {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class Lockout(models.Model):
    """A user name or a client address refused sign-in until `locked_until` (or until an administrator unlocks)."""

    class Scope(models.TextChoices):
        USERNAME = "username", _("user name")
        ADDRESS = "address", _("client address")

    scope = models.CharField(_("scope"), max_length=8, choices=Scope.choices)
    value = models.CharField(_("user name or address"), max_length=150)
    failures = models.PositiveIntegerField(_("failures"))
    locked_at = models.DateTimeField(_("locked at"))
    locked_until = models.DateTimeField(_("locked until"))
    unlocked_at = models.DateTimeField(_("unlocked at"), null=True, blank=True)
    unlocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("unlocked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("lockout")
        verbose_name_plural = _("lockouts")
        ordering = ["-locked_at"]
        indexes = [models.Index(fields=["scope", "value", "locked_until"])]

    def __str__(self):
        return f"{self.get_scope_display()} {self.value} → {self.locked_until:%Y-%m-%d %H:%M:%S}"


class TotpDevice(models.Model):
    """A user's TOTP authenticator (RFC 6238, 30 s steps, 6 digits). Unconfirmed until the first right code."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = EncryptedTextField(_("secret"))
    created_at = models.DateTimeField(_("created at"))
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    # The last time step whose code was accepted: a code is never accepted twice.
    last_used_step = models.BigIntegerField(_("last used time step"), null=True, blank=True)

    class Meta:
        verbose_name = _("TOTP device")
        verbose_name_plural = _("TOTP devices")

    def __str__(self):
        return f"{self.user} ({_('confirmed') if self.confirmed_at else _('not confirmed')})"


class RecoveryCode(models.Model):
    """A single-use code that stands in for a TOTP code (lost phone). Only a keyed hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(_("code hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")

    def __str__(self):
        return f"{self.user} #{self.pk}"


class ApiToken(models.Model):
    """A per-user API key: shown once when issued, stored as a SHA-256 hash, expires, can be revoked."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, help_text=_("identifies the key; not secret"))
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix} ({self.user})"

    def state(self, now):
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"


class PasswordHistory(models.Model):
    """A password a user has had, as its hash (the same salted hash as `User.password`), newest first. The last
    ``PASSWORD_HISTORY`` are kept so a new password cannot be one of them (`PasswordHistoryValidator`)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="password_history"
    )
    password_hash = models.CharField(_("password hash"), max_length=128)
    set_at = models.DateTimeField(_("set at"))

    class Meta:
        verbose_name = _("former password")
        verbose_name_plural = _("former passwords")
        ordering = ["user", "-set_at", "-id"]

    def __str__(self):
        return f"{self.user} {self.set_at:%Y-%m-%d %H:%M}"
