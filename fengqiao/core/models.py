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
