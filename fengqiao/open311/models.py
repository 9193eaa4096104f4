"""The Open311 GeoReport v2 door (ADR 0014): client keys, the attributes a service asks for, and what a request
brought beyond the matter itself, and the updates clients posted to their requests.

A request through the door is a `Matter` (channel ``open311``) taken in by `matters.services.submit`; the
`ServiceRequest` row beside it keeps what the matter has no field for: the key that sent it, the public token,
the media URLs (text only, never fetched), the attributes, and the client's e-mail, device and account ids
(personal data: encrypted, never returned by a GET).
"""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.crypto import EncryptedTextField
from fengqiao.core.models import TimeStampedModel
from fengqiao.departments.models import Category
from fengqiao.matters.models import Matter, MatterEvent

# Attributes every service offers (ServiceAttribute rows may not reuse these codes); see catalogue.py.
COMMON_ATTRIBUTE_CODES = ("title", "urgency")
ATTRIBUTE_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,50}$")


class ApiKey(models.Model):
    """A key of one Open311 client (a city app, FixMyStreet, …): shown once when issued, stored as a SHA-256
    hash, revocable. Issued with ``fengqiao open311-key create NAME``."""

    name = models.CharField(_("name"), max_length=100, help_text=_("the client this key was issued to"))
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, help_text=_("identifies the key; not secret"))
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.CharField(_("created by"), max_length=150)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("Open311 API key")
        verbose_name_plural = _("Open311 API keys")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(revoked_at__isnull=True), name="open311_key_name"
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix})"

    @property
    def state(self):
        return "revoked" if self.revoked_at is not None else "active"


class Datatype(models.TextChoices):
    STRING = "string", _("single line of text")
    NUMBER = "number", _("number")
    DATETIME = "datetime", _("date and time")
    TEXT = "text", _("multi-line text")
    SINGLE = "singlevaluelist", _("one choice of a list")
    MULTI = "multivaluelist", _("several choices of a list")


LIST_TYPES = (Datatype.SINGLE, Datatype.MULTI)


class ServiceAttribute(TimeStampedModel):
    """A question a service asks (an Open311 service-definition attribute), for a category and its descendants."""

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="open311_attributes"
    )
    code = models.CharField(
        _("code"),
        max_length=50,
        validators=[RegexValidator(ATTRIBUTE_CODE, _("Letters, digits, '_', '.' and '-' only."))],
        help_text=_("the key clients send as attribute[CODE]"),
    )
    datatype = models.CharField(_("data type"), max_length=16, choices=Datatype.choices, default=Datatype.STRING)
    required = models.BooleanField(_("required"), default=False)
    variable = models.BooleanField(
        _("asks for input"), default=True, help_text=_("off: information shown to the user only")
    )
    description = models.CharField(_("question"), max_length=300)
    datatype_description = models.CharField(_("hint"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=100)
    options = models.TextField(
        _("options"), blank=True, help_text=_("for list types: one option per line, as key=name")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("Open311 service attribute")
        verbose_name_plural = _("Open311 service attributes")
        ordering = ["category__path", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["category", "code"], name="open311_attribute_category_code"),
        ]

    def __str__(self):
        return f"{self.category.code}: {self.code}"

    def values(self):
        """The options as [{key, name}] (empty for the types that are not lists)."""
        out = []
        for line in self.options.splitlines():
            if not line.strip():
                continue
            key, _sep, name = line.partition("=")
            out.append({"key": key.strip(), "name": (name or key).strip()})
        return out

    def clean(self):
        super().clean()
        if self.code in COMMON_ATTRIBUTE_CODES:
            raise ValidationError({"code": _("This code is an attribute of every service already.")})
        values = self.values()
        if self.datatype in LIST_TYPES:
            keys = [v["key"] for v in values]
            if not keys or not all(keys):
                raise ValidationError({"options": _("A list needs at least one option, each as key=name.")})
            if len(set(keys)) != len(keys):
                raise ValidationError({"options": _("The keys of the options must differ.")})
        elif values:
            raise ValidationError({"options": _("Only the list types have options.")})


class ServiceRequest(models.Model):
    """What an Open311 request brought beside its matter."""

    matter = models.OneToOneField(
        Matter, verbose_name=_("matter"), on_delete=models.CASCADE, related_name="open311_request"
    )
    api_key = models.ForeignKey(ApiKey, verbose_name=_("API key"), on_delete=models.PROTECT, related_name="requests")
    token = models.CharField(_("token"), max_length=40, unique=True, help_text=_("the public token of the request"))
    service_code = models.CharField(_("service code"), max_length=32)
    address_id = models.CharField(_("address id"), max_length=100, blank=True)
    media_urls = models.JSONField(_("media URLs"), default=list, blank=True, help_text=_("URLs only; never fetched"))
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # Personal data of the client's user (encrypted; never returned by a GET).
    email = EncryptedTextField(_("e-mail"), blank=True)
    device_id = EncryptedTextField(_("device id"), blank=True)
    account_id = EncryptedTextField(_("account id"), blank=True)
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("Open311 request")
        verbose_name_plural = _("Open311 requests")
        ordering = ["-received_at", "-id"]

    def __str__(self):
        return f"{self.matter.tracking_code} ({self.service_code})"


class ServiceRequestUpdate(models.Model):
    """An update a client posted to one of its requests (FixMyStreet's POST servicerequestupdates). The step it
    took is the engine's timeline row (`event`); this row keeps the client's side: its update id (a retry answers
    the first), its status and time, the media URL, and who wrote it (personal data: encrypted, never returned
    by a GET)."""

    request = models.ForeignKey(
        ServiceRequest, verbose_name=_("Open311 request"), on_delete=models.CASCADE, related_name="updates"
    )
    api_key = models.ForeignKey(ApiKey, verbose_name=_("API key"), on_delete=models.PROTECT, related_name="updates")
    update_id = models.CharField(_("client's update id"), max_length=100)
    event = models.OneToOneField(
        MatterEvent, verbose_name=_("timeline row"), on_delete=models.CASCADE, related_name="open311_update"
    )
    status = models.CharField(_("client's status"), max_length=32)
    client_updated_at = models.DateTimeField(_("updated at (client)"))
    media_url = models.CharField(_("media URL"), max_length=2000, blank=True, help_text=_("a URL only; never fetched"))
    # Personal data of the client's user (encrypted; never returned by a GET).
    author_name = EncryptedTextField(_("author"), blank=True)
    email = EncryptedTextField(_("e-mail"), blank=True)
    phone = EncryptedTextField(_("phone"), blank=True)
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("Open311 request update")
        verbose_name_plural = _("Open311 request updates")
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["api_key", "update_id"], name="open311_update_client_id")]

    def __str__(self):
        return f"{self.request.matter_id} #{self.update_id}"
