"""`fengqiao import-boundaries FILE.geojson [--crs gcj02|wgs84] [--skip-unknown]`"""

from django.core.management.base import BaseCommand, CommandError

from fengqiao.areas.boundaries import CRS_CHOICES, import_boundary_file
from fengqiao.core.geo import GeoError


class Command(BaseCommand):
    help = (
        "Attach boundaries from a GeoJSON file to areas by their 'adcode' (6 digits) or 'code' (12 digits) "
        "property, converting GCJ-02 to WGS84 and repairing invalid geometries. A changed geometry adds a new "
        "version; an unchanged one is left alone. All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="GeoJSON FeatureCollection")
        parser.add_argument("--crs", choices=CRS_CHOICES, default="gcj02", help="coordinates of the file (gcj02)")
        parser.add_argument(
            "--skip-unknown", action="store_true", help="skip features whose adcode has no area (default: error)"
        )
        parser.add_argument("--actor", default="cli:import-boundaries", help="name recorded in the audit log")

    def handle(self, *args, **options):
        try:
            report = import_boundary_file(
                options["file"], actor=options["actor"], crs=options["crs"], skip_unknown=options["skip_unknown"]
            )
        except GeoError as exc:
            raise CommandError(str(exc)) from None
        for line in report.lines():
            self.stdout.write(line)
