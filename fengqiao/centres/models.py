from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.areas.models import Area
from fengqiao.core.crypto import EncryptedTextField
from fengqiao.core.models import TimeStampedModel
from fengqiao.departments.models import Department


class Centre(TimeStampedModel):
    """A governance centre (综治中心) at city, county, town/street or village/community level (GZ1)."""

    area = models.OneToOneField(Area, verbose_name=_("area"), on_delete=models.PROTECT, related_name="centre")
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    duty_phone = models.CharField(_("duty phone"), max_length=40, blank=True, help_text=_("public duty line"))
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    floor_area_m2 = models.PositiveIntegerField(_("floor area (m²)"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("governance centre")
        verbose_name_plural = _("governance centres")
        ordering = ["area__code"]

    def __str__(self):
        return self.name


class SpaceType(models.Model):
    """A kind of service space ("一厅五室": reception hall, mediation room, psychological service room, …)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    is_hall = models.BooleanField(_("reception hall"), default=False)
    order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        verbose_name = _("service space type")
        verbose_name_plural = _("service space types")
        ordering = ["order", "code"]

    def __str__(self):
        return self.name


class ServiceSpace(models.Model):
    centre = models.ForeignKey(Centre, verbose_name=_("centre"), on_delete=models.CASCADE, related_name="spaces")
    space_type = models.ForeignKey(SpaceType, verbose_name=_("type"), on_delete=models.PROTECT)
    name = models.CharField(_("name"), max_length=100)
    seats = models.PositiveSmallIntegerField(_("seats"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("service space")
        verbose_name_plural = _("service spaces")
        ordering = ["centre", "space_type__order", "name"]

    def __str__(self):
        return f"{self.centre} · {self.name}"


class Stationing(models.Model):
    """A member of a department's staff stationed in a centre for a period (GZ3: one roster for all)."""

    centre = models.ForeignKey(Centre, verbose_name=_("centre"), on_delete=models.CASCADE, related_name="roster")
    department = models.ForeignKey(Department, verbose_name=_("department"), on_delete=models.PROTECT)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.PROTECT)
    duty = models.CharField(_("duty"), max_length=100, blank=True)
    space = models.ForeignKey(ServiceSpace, verbose_name=_("space"), null=True, blank=True, on_delete=models.SET_NULL)
    valid_from = models.DateField(_("from"))
    valid_to = models.DateField(_("to"), null=True, blank=True)

    class Meta:
        verbose_name = _("stationed staff")
        verbose_name_plural = _("roster of stationed staff")
        ordering = ["centre", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gte=models.F("valid_from")),
                name="stationing_period_order",
            )
        ]

    def __str__(self):
        return f"{self.staff} @ {self.centre} ({self.department})"


class Reception(TimeStampedModel):
    """A walk-in visit logged at a centre's reception hall (GZ2). Visitor details are personal data."""

    class Outcome(models.TextChoices):
        ANSWERED = "answered", _("answered on the spot")
        REFERRED = "referred", _("referred to a space or department")
        REGISTERED = "registered", _("registered as a matter")
        OTHER = "other", _("other")

    centre = models.ForeignKey(Centre, verbose_name=_("centre"), on_delete=models.PROTECT, related_name="receptions")
    received_at = models.DateTimeField(_("received at"), db_index=True)
    visitor_name = EncryptedTextField(_("visitor name"), blank=True)
    visitor_phone = EncryptedTextField(_("visitor phone"), blank=True)
    visitor_phone_hash = models.CharField(
        _("visitor phone hash"), max_length=64, blank=True, db_index=True, editable=False
    )
    headcount = models.PositiveSmallIntegerField(_("number of visitors"), default=1)
    purpose = models.TextField(_("purpose"))
    space = models.ForeignKey(
        ServiceSpace, verbose_name=_("referred to space"), null=True, blank=True, on_delete=models.SET_NULL
    )
    department = models.ForeignKey(
        Department, verbose_name=_("referred to department"), null=True, blank=True, on_delete=models.SET_NULL
    )
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, default=Outcome.ANSWERED)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("received by"), null=True, blank=True, on_delete=models.PROTECT
    )

    class Meta:
        verbose_name = _("reception record")
        verbose_name_plural = _("reception log")
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.centre} {self.received_at:%Y-%m-%d %H:%M}"
