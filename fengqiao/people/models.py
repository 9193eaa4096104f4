"""The five elements of grid governance (人地事物组织, GB/T 31000 data areas; domain.md §3): households, persons,
buildings, places and organisations, and the special and vulnerable groups among the persons.

Personal data (PIPL; ADR 0005) is stored in EncryptedTextFields; exact lookups use keyed hashes. A person's birth
date and sex are derived from the ID number, never asked for twice. Special care records are sensitive personal
information: reading them needs their own permission and is audited; they are erased after `retention_until`,
which always has a value (`SPECIAL_CARE_RETENTION_DAYS`).
"""

import datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.areas.models import Area, Grid
from fengqiao.core.crypto import EncryptedTextField
from fengqiao.core.masking import mask_name
from fengqiao.core.models import TimeStampedModel


def _area(related_name):
    return models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT, related_name=related_name)


def _grid(related_name):
    return models.ForeignKey(
        Grid, verbose_name=_("grid"), null=True, blank=True, on_delete=models.SET_NULL, related_name=related_name
    )


class Household(TimeStampedModel):
    """A household (户) registered in a village or community."""

    area = _area("households")
    grid = _grid("household_set")
    number = models.CharField(_("household number"), max_length=40, blank=True, db_index=True)
    address = EncryptedTextField(_("address"), blank=True)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["area__code", "number", "pk"]

    def __str__(self):
        return f"{self.number or self.pk}"


class Person(TimeStampedModel):
    class ResidenceType(models.TextChoices):
        RESIDENT = "resident", _("permanent resident")
        REGISTERED = "registered", _("registered resident")
        FLOATING = "floating", _("floating population")

    class Relationship(models.TextChoices):
        HEAD = "head", _("head of household")
        SPOUSE = "spouse", _("spouse")
        CHILD = "child", _("child")
        PARENT = "parent", _("parent")
        OTHER = "other", _("other relative or member")

    class Sex(models.TextChoices):
        MALE = "male", _("male")
        FEMALE = "female", _("female")

    area = _area("persons")
    grid = _grid("persons")
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    relationship = models.CharField(
        _("relationship to the head"), max_length=10, choices=Relationship.choices, blank=True
    )
    residence_type = models.CharField(_("residence type"), max_length=12, choices=ResidenceType.choices)
    name = EncryptedTextField(_("name"))
    id_number = EncryptedTextField(_("ID number"), blank=True)
    id_number_hash = models.CharField(_("ID number hash"), max_length=64, blank=True, db_index=True, editable=False)
    birth_date = models.DateField(_("birth date"), null=True, blank=True, editable=False)
    sex = models.CharField(_("sex"), max_length=6, choices=Sex.choices, blank=True, editable=False)
    phone = EncryptedTextField(_("phone"), blank=True)
    phone_hash = models.CharField(_("phone hash"), max_length=64, blank=True, db_index=True, editable=False)
    ethnicity = models.CharField(_("ethnicity"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")
        ordering = ["area__code", "pk"]
        permissions = [("unmask_person", _("Can see a person's personal data unmasked"))]

    def __str__(self):
        return mask_name(self.name) or str(self.pk)


class PersonIdentityConflict(TimeStampedModel):
    """Two persons registered with the same ID number by staff whose scope did not reach the other record.

    Refusing the second registration would tell a town's staff that the number is registered elsewhere (a leak of
    its existence), so the record is created and the pair flagged for review instead. Only users whose scope covers
    both persons see the flag (`people.selectors.identity_conflicts`); `area` is the lowest area holding both (the
    lowest common ancestor), or none when they lie under different roots."""

    area = models.ForeignKey(
        Area,
        verbose_name=_("common area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="identity_conflicts",
        help_text=_("the lowest area that holds both persons"),
    )
    person = models.ForeignKey(
        Person, verbose_name=_("new record"), on_delete=models.CASCADE, related_name="identity_conflicts"
    )
    existing = models.ForeignKey(
        Person, verbose_name=_("earlier record"), on_delete=models.CASCADE, related_name="identity_conflicts_earlier"
    )
    resolved_at = models.DateTimeField(_("marked resolved at"), null=True, blank=True, db_index=True)
    resolved_by = models.CharField(_("marked resolved by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("identity conflict")
        verbose_name_plural = _("identity conflicts")
        ordering = ["-created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["person", "existing"], name="people_conflict_once")]

    def __str__(self):
        return f"{self.existing_id} / {self.person_id}"


class Building(TimeStampedModel):
    class Use(models.TextChoices):
        RESIDENTIAL = "residential", _("residential")
        COMMERCIAL = "commercial", _("commercial")
        MIXED = "mixed", _("mixed use")
        PUBLIC = "public", _("public")
        INDUSTRIAL = "industrial", _("industrial")
        OTHER = "other", _("other")

    area = _area("buildings")
    grid = _grid("buildings")
    address = models.CharField(_("address"), max_length=200)
    floors = models.PositiveSmallIntegerField(_("floors"), null=True, blank=True)
    use = models.CharField(_("use"), max_length=12, choices=Use.choices, default=Use.RESIDENTIAL)

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        ordering = ["area__code", "address"]

    def __str__(self):
        return self.address


class Place(TimeStampedModel):
    """A place that grid staff inspect (shops, rental houses, enterprises, schools, hospitals; DG5)."""

    class Kind(models.TextChoices):
        SHOP = "shop", _("shop")
        RENTAL_HOUSE = "rental_house", _("rental house")
        ENTERPRISE = "enterprise", _("enterprise")
        SCHOOL = "school", _("school")
        HOSPITAL = "hospital", _("hospital")
        OTHER = "other", _("other")

    class Safety(models.TextChoices):
        NONE = "none", _("not certified")
        APPLIED = "applied", _("certification applied for")
        CERTIFIED = "certified", _("certified safe")
        REVOKED = "revoked", _("certification revoked")

    area = _area("places")
    grid = _grid("places")
    kind = models.CharField(_("kind"), max_length=14, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    safety_status = models.CharField(_("safety certification"), max_length=10, choices=Safety.choices, default="none")
    safety_date = models.DateField(_("safety certification date"), null=True, blank=True)

    class Meta:
        verbose_name = _("place")
        verbose_name_plural = _("places")
        ordering = ["area__code", "name"]

    def __str__(self):
        return self.name


class Organisation(TimeStampedModel):
    class Kind(models.TextChoices):
        SOCIAL = "social", _("social organisation")
        CHAMBER = "chamber", _("chamber of commerce")
        ENTERPRISE = "enterprise", _("enterprise")
        VOLUNTEER = "volunteer", _("volunteer team")
        OTHER = "other", _("other")

    area = _area("organisations")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True, db_index=True)
    points = models.IntegerField(_("points"), default=0, help_text=_("participation points (DG8)"))

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["area__code", "name"]

    def __str__(self):
        return self.name


# Days a special care record is kept, by category ([I]: inferred, to be confirmed with the county's civil affairs,
# justice and health offices; override with settings.FENGQIAO_SPECIAL_CARE_RETENTION_DAYS, a dict category→days,
# whose entries replace these one by one). The period runs from the last day of care (`until`) once the record is
# ended, and until then from its first day (`since`, else the day it was recorded): a record that nobody ends or
# extends is erased when the period runs out, so nothing sensitive is kept without a decision (PIPL Art. 47).
SPECIAL_CARE_RETENTION_DAYS = {
    "community_correction": 3 * 365,  # [I] the term is at most a few years; kept 3 years after it
    "released_prisoner": 5 * 365,  # [I] the 5-year resettlement and assistance period (安置帮教) after release
    "mental_illness": 5 * 365,  # [I] long-term follow-up; a case still open is reviewed and extended
    "left_behind_elderly": 3 * 365,  # [I]
    "left_behind_child": 3 * 365,  # [I]
    "crisis": 365,  # [I] crisis intervention is short; one year after it
    "other": 365,  # [I]
}


def special_care_retention_days(category: str) -> int:
    """Days a record of `category` is kept (SPECIAL_CARE_RETENTION_DAYS, overridden by the setting)."""
    days = {**SPECIAL_CARE_RETENTION_DAYS, **getattr(settings, "FENGQIAO_SPECIAL_CARE_RETENTION_DAYS", {})}
    value = days.get(category)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ImproperlyConfigured(
            f"FENGQIAO_SPECIAL_CARE_RETENTION_DAYS[{category!r}] must be a positive number of days, got {value!r}"
        )
    return value


def default_retention_until(category: str, start: datetime.date) -> datetime.date:
    return start + datetime.timedelta(days=special_care_retention_days(category))


class SpecialCare(TimeStampedModel):
    """A person in a special or vulnerable group. Sensitive personal information (PIPL Art. 28): reads need
    `view_specialcare` and are audited; exporting needs `export_specialcare` as well (no role holds it by default).
    The record is erased after `retention_until`, which the services fill from SPECIAL_CARE_RETENTION_DAYS when
    it is not given: from `since` (or the day of recording) on creation, from `until` when the care ends."""

    class Category(models.TextChoices):
        COMMUNITY_CORRECTION = "community_correction", _("community correction")
        RELEASED_PRISONER = "released_prisoner", _("released prisoner")
        MENTAL_ILLNESS = "mental_illness", _("severe mental illness")
        ELDERLY = "left_behind_elderly", _("left-behind elderly")
        CHILD = "left_behind_child", _("left-behind child")
        CRISIS = "crisis", _("person in crisis")
        OTHER = "other", _("other")

    person = models.ForeignKey(Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="care")
    category = models.CharField(_("category"), max_length=24, choices=Category.choices)
    risk_level = models.PositiveSmallIntegerField(
        _("risk level"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(5)],
        help_text=_("0–5, for severe mental illness only"),
    )
    details = EncryptedTextField(_("details"), blank=True)
    since = models.DateField(_("since"), null=True, blank=True)
    until = models.DateField(_("last day of care"), null=True, blank=True, help_text=_("set when the care ends"))
    retention_until = models.DateField(_("keep until"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("special care record")
        verbose_name_plural = _("special care records")
        ordering = ["person", "category"]
        permissions = [("export_specialcare", _("Can include special care records in exports"))]

    def __str__(self):
        return f"{self.person} · {self.get_category_display()}"
