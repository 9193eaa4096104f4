from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.areas.codes import Level
from fengqiao.core.models import GeometryModel, TimeStampedModel


class AreaQuerySet(models.QuerySet):
    def current(self):
        return self.filter(valid_to__isnull=True)

    def within(self, area, *, include_self=True):
        qs = self.filter(path__startswith=area.path)
        return qs if include_self else qs.exclude(pk=area.pk)


class Area(TimeStampedModel):
    """A node of the official division tree: province → city → county → town/street → village/community →
    villager group. Codes are never deleted: a code that disappears from an edition is retired (valid_to)."""

    code = models.CharField(_("division code"), max_length=15, unique=True)
    name = models.CharField(_("name"), max_length=100)
    short_name = models.CharField(_("short name"), max_length=60, blank=True, db_index=True)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, db_index=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(_("path"), max_length=128, unique=True, help_text=_("codes from the root, '/' separated"))
    urban_rural_code = models.CharField(_("urban-rural code"), max_length=3, blank=True)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True, db_index=True)
    edition = models.CharField(_("edition"), max_length=20, help_text=_("last division edition that listed it"))

    objects = AreaQuerySet.as_manager()

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["path"], name="area_path_like", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["parent", "name"]),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def is_current(self):
        return self.valid_to is None

    def ancestor_codes(self):
        return [c for c in self.path.strip("/").split("/") if c]

    def ancestors(self, *, include_self=True):
        codes = self.ancestor_codes()
        if not include_self:
            codes = codes[:-1]
        by_code = {a.code: a for a in Area.objects.filter(code__in=codes)}
        return [by_code[c] for c in codes if c in by_code]


class AreaChange(models.Model):
    """History of the division tree: what each edition created, renamed, moved, retired or revived."""

    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        CHANGED = "changed", _("changed")
        RETIRED = "retired", _("retired")
        REVIVED = "revived", _("revived")

    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.CASCADE, related_name="changes")
    edition = models.CharField(_("edition"), max_length=20)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("area change")
        verbose_name_plural = _("area changes")
        ordering = ["-id"]

    def __str__(self):
        return f"{self.area.code} {self.kind} ({self.edition})"


class DivisionEdition(models.Model):
    """One applied import of a division edition: what was read, when it takes effect, what it changed."""

    label = models.CharField(_("edition"), max_length=20)
    valid_from = models.DateField(_("valid from"), db_index=True)
    files = models.JSONField(_("files"), default=list)
    scope = models.JSONField(
        _("retirement scope"), default=list, help_text=_("codes under which vanished codes were retired")
    )
    counts = models.JSONField(_("counts"), default=dict)
    forced = models.BooleanField(_("forced"), default=False, help_text=_("applied although a newer edition existed"))
    applied_at = models.DateTimeField(_("applied at"), auto_now_add=True)

    class Meta:
        verbose_name = _("division edition")
        verbose_name_plural = _("division editions")
        ordering = ["-applied_at"]

    def __str__(self):
        return f"{self.label} ({self.valid_from})"


class Boundary(GeometryModel):
    """A version of an area's boundary. A new import adds a version and closes the previous one."""

    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.CASCADE, related_name="boundaries")
    version = models.PositiveIntegerField(_("version"))
    source = models.CharField(_("source"), max_length=200)
    source_crs = models.CharField(_("source CRS"), max_length=20, default="WGS84")
    repaired = models.BooleanField(_("repaired"), default=False, help_text=_("the source geometry was invalid"))
    synthetic = models.BooleanField(_("synthetic"), default=False, help_text=_("generated for a demo, not real"))
    valid_from = models.DateTimeField(_("valid from"), auto_now_add=True)
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("boundary")
        verbose_name_plural = _("boundaries")
        ordering = ["area__code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["area", "version"], name="boundary_area_version"),
            models.UniqueConstraint(
                fields=["area"], condition=models.Q(valid_to__isnull=True), name="boundary_one_current"
            ),
        ]

    def __str__(self):
        return f"{self.area} v{self.version}"


class GridLayer(models.Model):
    """A layer of grids ("three grids in one"): comprehensive, forest-chief, river-chief, or any layer an
    administrator adds. Grids of one layer must not overlap; layers overlap each other freely."""

    COMPREHENSIVE = "comprehensive"

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    description = models.TextField(_("description"), blank=True)
    full_coverage = models.BooleanField(
        _("must cover the territory"), default=True, help_text=_("coverage checks report gaps for this layer")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        verbose_name = _("grid layer")
        verbose_name_plural = _("grid layers")
        ordering = ["order", "code"]

    def __str__(self):
        return self.name


class GridQuerySet(models.QuerySet):
    def current(self):
        return self.filter(valid_to__isnull=True)


class Grid(GeometryModel, TimeStampedModel):
    """A grid (网格): the smallest unit of territory a grid member answers for."""

    class Kind(models.TextChoices):
        COMPREHENSIVE = "comprehensive", _("comprehensive grid")
        DEDICATED = "dedicated", _("dedicated grid")

    class DedicatedType(models.TextChoices):
        NONE = "", _("—")
        SCHOOL = "school", _("school")
        HOSPITAL = "hospital", _("hospital")
        PARK = "park", _("industrial park")
        ENTERPRISE = "enterprise", _("enterprise")
        MARKET = "market", _("market")
        OTHER = "other", _("other")

    layer = models.ForeignKey(GridLayer, verbose_name=_("layer"), on_delete=models.PROTECT, related_name="grids")
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.COMPREHENSIVE)
    dedicated_type = models.CharField(
        _("dedicated to"), max_length=16, choices=DedicatedType.choices, default="", blank=True
    )
    area = models.ForeignKey(
        Area,
        verbose_name=_("area"),
        on_delete=models.PROTECT,
        related_name="grids",
        help_text=_("the village/community (or town) the grid belongs to"),
    )
    households = models.PositiveIntegerField(_("households"), default=0)
    population = models.PositiveIntegerField(_("population"), default=0)
    synthetic = models.BooleanField(_("synthetic"), default=False, help_text=_("generated for a demo, not real"))
    valid_to = models.DateTimeField(_("retired at"), null=True, blank=True, db_index=True)

    objects = GridQuerySet.as_manager()

    class Meta:
        verbose_name = _("grid")
        verbose_name_plural = _("grids")
        ordering = ["layer__order", "code"]
        constraints = [models.UniqueConstraint(fields=["layer", "code"], name="grid_layer_code")]
        indexes = [models.Index(fields=["layer", "valid_to", "updated_at"])]

    def __str__(self):
        return f"{self.name} ({self.code})"


class StandardAddress(TimeStampedModel):
    """A standard address (标准地址): an address text, its building point and the grid the point lies in.

    Written only by `addresses.import_address_file` (and relocated by `addresses.relocate_addresses`); the
    resolver matches `key` in free text to give a hotline address its grid (ADR 0018)."""

    address = models.CharField(_("address"), max_length=200)
    normalised = models.CharField(
        _("normalised address"),
        max_length=200,
        unique=True,
        help_text=_("half-width, without spaces or punctuation; one row per normalised address"),
    )
    key = models.CharField(
        _("matching key"), max_length=200, db_index=True, help_text=_("the normalised text after the division names")
    )
    lon = models.FloatField(_("longitude"))
    lat = models.FloatField(_("latitude"))
    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT, related_name="standard_addresses")
    grid = models.ForeignKey(
        Grid,
        verbose_name=_("grid"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="standard_addresses",
        help_text=_("the grid containing the point when it was imported or relocated"),
    )
    source = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("standard address")
        verbose_name_plural = _("standard addresses")
        ordering = ["normalised"]

    def __str__(self):
        return self.address
