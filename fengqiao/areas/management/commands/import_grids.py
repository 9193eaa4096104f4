"""`fengqiao import-grids FILE.geojson --layer CODE [--crs wgs84|gcj02]`"""

from django.core.management.base import BaseCommand, CommandError

from fengqiao.areas.grids import GridError, import_grid_file
from fengqiao.core.geo import GeoError


class Command(BaseCommand):
    help = (
        "Create or update grids of a layer from GeoJSON (properties: code, name, kind, dedicated_type, "
        "area_code, households, population, synthetic, layer), matched by code. A feature's 'layer' property, "
        "when present, must equal --layer. All or nothing; errors name the feature."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="GeoJSON FeatureCollection")
        parser.add_argument("--layer", required=True, help="grid layer code, e.g. comprehensive")
        parser.add_argument("--crs", choices=("wgs84", "gcj02"), default="wgs84", help="coordinates (wgs84)")
        parser.add_argument("--actor", default="cli:import-grids", help="name recorded in the audit log")

    def handle(self, *args, **options):
        try:
            report = import_grid_file(
                options["file"], actor=options["actor"], layer=options["layer"], crs=options["crs"]
            )
        except (GridError, GeoError) as exc:
            raise CommandError(str(exc)) from None
        for line in report.lines():
            self.stdout.write(line)
