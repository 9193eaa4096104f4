from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.areas.models import Area
from fengqiao.core.models import TimeStampedModel


class Category(TimeStampedModel):
    """A category of matters (an admin-edited tree; the closed loop classifies and routes by it)."""

    class Scheme(models.TextChoices):
        HOTLINE = "12345", _("12345 hotline")
        DISPUTE = "gbt31000", _("GB/T 31000 dispute type")
        LOCAL = "local", _("local")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    scheme = models.CharField(_("scheme"), max_length=10, choices=Scheme.choices, default=Scheme.LOCAL)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(_("path"), max_length=200, unique=True, editable=False)
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        verbose_name = _("matter category")
        verbose_name_plural = _("matter categories")
        ordering = ["path"]

    def __str__(self):
        return self.name

    def ancestor_codes(self):
        return [c for c in self.path.strip("/").split("/") if c]


class Department(TimeStampedModel):
    """A functional department (职能部门) of an area's government, or a unit that acts like one."""

    class Kind(models.TextChoices):
        GOVERNMENT = "government", _("government department")
        POLICE = "police", _("public security")
        COURT = "court", _("court")
        PROCURATORATE = "procuratorate", _("procuratorate")
        JUDICIAL = "judicial", _("judicial administration")
        PETITION = "petition", _("petition bureau")
        UTILITY = "utility", _("public utility")
        COMMITTEE = "committee", _("village or residents' committee")
        OTHER = "other", _("other")

    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT, related_name="departments")
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    short_name = models.CharField(_("short name"), max_length=40, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.GOVERNMENT)
    office_phone = models.CharField(_("office phone"), max_length=40, blank=True, help_text=_("public duty line"))
    active = models.BooleanField(_("active"), default=True)
    categories = models.ManyToManyField(
        Category, verbose_name=_("responsible for"), through="Responsibility", related_name="departments", blank=True
    )

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["area__code", "code"]
        constraints = [models.UniqueConstraint(fields=["area", "code"], name="department_area_code")]

    def __str__(self):
        return self.name


class Responsibility(models.Model):
    """Catalogue entry: this department handles matters of this category (and its sub-categories) in its area."""

    department = models.ForeignKey(Department, verbose_name=_("department"), on_delete=models.CASCADE)
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT)
    lead = models.BooleanField(_("lead unit"), default=True, help_text=_("lead (主办) rather than assisting (协办)"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("responsibility")
        verbose_name_plural = _("catalogue of responsibilities")
        constraints = [
            models.UniqueConstraint(fields=["department", "category"], name="responsibility_department_category")
        ]

    def __str__(self):
        return f"{self.department} → {self.category}"


class Membership(models.Model):
    """A user working for a department: what a department's matters and dispatches reach (ADR 0013).

    The user's `AreaAssignment` (role: department staff) says where they may look; the membership says which
    unit they act for, so a department acts only on matters dispatched to it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="department_memberships",
    )
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.CASCADE, related_name="memberships"
    )
    valid_from = models.DateField(_("from"))
    valid_to = models.DateField(_("to"), null=True, blank=True, help_text=_("last day (inclusive); empty: open"))

    class Meta:
        verbose_name = _("department membership")
        verbose_name_plural = _("department memberships")
        ordering = ["department", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "department", "valid_from"], name="membership_user_department")
        ]

    def __str__(self):
        return f"{self.user} @ {self.department}"
