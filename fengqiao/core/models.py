"""Shared model bases."""

import hashlib

import shapely
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.geo import area_m2


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        abstract = True


class GeometryModel(models.Model):
    """Portable geometry: WGS84 WKB plus bounding-box columns for cheap pre-filtering (ADR 0004)."""

    geometry_wkb = models.BinaryField(_("geometry (WKB, WGS84)"), null=True, blank=True, editable=False)
    geometry_hash = models.CharField(_("geometry hash"), max_length=64, blank=True, editable=False)
    min_lon = models.FloatField(_("min longitude"), null=True, blank=True, editable=False)
    min_lat = models.FloatField(_("min latitude"), null=True, blank=True, editable=False)
    max_lon = models.FloatField(_("max longitude"), null=True, blank=True, editable=False)
    max_lat = models.FloatField(_("max latitude"), null=True, blank=True, editable=False)
    area_m2 = models.FloatField(_("area (m²)"), null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def geometry(self):
        if not self.geometry_wkb:
            return None
        return shapely.from_wkb(bytes(self.geometry_wkb))

    def set_geometry(self, geom):
        """Store `geom` (already valid and in WGS84) with its bbox, hash and area."""
        if geom is None:
            self.geometry_wkb = None
            self.geometry_hash = ""
            self.min_lon = self.min_lat = self.max_lon = self.max_lat = self.area_m2 = None
            return
        wkb = shapely.to_wkb(geom, output_dimension=2)
        self.geometry_wkb = wkb
        self.geometry_hash = hashlib.sha256(wkb).hexdigest()
        self.min_lon, self.min_lat, self.max_lon, self.max_lat = geom.bounds
        self.area_m2 = area_m2(geom)


class JobRun(models.Model):
    """The lease and last outcome of a periodic job of `fengqiao worker` (`fengqiao.core.jobs`).

    Several workers share the table: a job runs where a worker wins the conditional UPDATE that takes its lease;
    a worker killed mid-run leaves a lease that expires, and another worker runs the (idempotent) job again.
    """

    name = models.CharField(_("job"), max_length=60, unique=True)
    next_run_at = models.DateTimeField(_("next run at"))
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    locked_by = models.CharField(_("locked by"), max_length=80, blank=True)
    last_started_at = models.DateTimeField(_("last started at"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last finished at"), null=True, blank=True)
    last_result = models.CharField(_("last result"), max_length=300, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    runs = models.PositiveIntegerField(_("runs"), default=0)

    class Meta:
        verbose_name = _("periodic job")
        verbose_name_plural = _("periodic jobs")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Stamp(models.Model):
    """A named counter that tells every process its cached copy of some rows is out of date (`fengqiao.core.stamps`).

    Whoever changes the rows bumps the stamp; a process keys its cached copy by the stamp's value, so the next read
    after a bump, in any process, rebuilds it.
    """

    name = models.CharField(_("name"), max_length=40, primary_key=True)
    value = models.BigIntegerField(_("value"), default=0)

    class Meta:
        verbose_name = _("cache stamp")
        verbose_name_plural = _("cache stamps")

    def __str__(self):
        return f"{self.name} {self.value}"
