"""`fengqiao export-grids [--layer L] [--area CODE] [-o FILE]`"""

from django.core.management.base import BaseCommand, CommandError

from fengqiao.areas.codes import CodeError, level_of
from fengqiao.areas.grids import GridError, export_grids, geojson_text
from fengqiao.areas.models import Area


class Command(BaseCommand):
    help = "Write current grids as GeoJSON (the format import-grids reads)."

    def add_arguments(self, parser):
        parser.add_argument("--layer", help="only this layer")
        parser.add_argument("--area", metavar="CODE", help="only grids in this area's subtree")
        parser.add_argument("-o", "--output", metavar="FILE", help="output file (default: standard output)")

    def handle(self, *args, **options):
        area = None
        if options["area"]:
            try:
                level_of(options["area"])
            except CodeError as exc:
                raise CommandError(f"malformed area code: {exc}") from None
            area = Area.objects.filter(code=options["area"]).first()
            if area is None:
                raise CommandError(f"no area with code {options['area']}")
        try:
            collection = export_grids(layer=options["layer"], area=area)
        except GridError as exc:
            raise CommandError(str(exc)) from None
        if options["output"]:
            try:
                with open(options["output"], "w", encoding="utf-8") as fp:
                    fp.write(geojson_text(collection) + "\n")
            except OSError as exc:
                raise CommandError(f"{options['output']}: cannot write ({exc.strerror or exc})") from None
            self.stderr.write(f"{len(collection['features'])} grids written to {options['output']}")
        else:
            self.stdout.write(geojson_text(collection))
