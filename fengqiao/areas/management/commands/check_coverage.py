"""`fengqiao check-coverage AREA_CODE [--layer L] [--geojson OUT] [--tolerance-m2 1.0]`"""

import json

from django.core.management.base import BaseCommand, CommandError

from fengqiao.areas.codes import CodeError, level_of
from fengqiao.areas.coverage import SLIVER_WIDTH_M, CoverageError, check_coverage
from fengqiao.areas.grids import GridError
from fengqiao.areas.models import Area, GridLayer


class Command(BaseCommand):
    help = (
        "Check that the current grids of a layer cover an area's current boundary exactly: report gaps, "
        "overlaps and grid parts outside the boundary (m²). Exit status 1 when there are gaps or overlaps."
    )

    def add_arguments(self, parser):
        parser.add_argument("area_code", help="12-digit division code, e.g. 441821000000")
        parser.add_argument("--layer", default=GridLayer.COMPREHENSIVE, help="grid layer code (comprehensive)")
        parser.add_argument("--geojson", metavar="OUT", help="write gaps/overlaps/outside pieces to this file")
        parser.add_argument(
            "--tolerance-m2", type=float, default=1.0, help="ignore pieces smaller than this (m², default 1.0)"
        )
        parser.add_argument(
            "--sliver-width-m",
            type=float,
            default=SLIVER_WIDTH_M,
            help=f"ignore pieces thinner than this on average (m, default {SLIVER_WIDTH_M}): overlay slivers",
        )

    def handle(self, *args, **options):
        try:
            level_of(options["area_code"])
        except CodeError as exc:
            raise CommandError(f"malformed area code: {exc}") from None
        area = Area.objects.filter(code=options["area_code"]).first()
        if area is None:
            raise CommandError(f"no area with code {options['area_code']}")
        try:
            report = check_coverage(
                area,
                layer=options["layer"],
                tolerance_m2=options["tolerance_m2"],
                sliver_width_m=options["sliver_width_m"],
            )
        except (CoverageError, GridError) as exc:
            raise CommandError(str(exc)) from None
        if options["geojson"]:
            text = json.dumps(report.to_geojson(), ensure_ascii=False)
            try:
                with open(options["geojson"], "w", encoding="utf-8") as fp:
                    fp.write(text)
            except OSError as exc:
                raise CommandError(f"{options['geojson']}: cannot write ({exc.strerror or exc})") from None
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            self.stdout.flush()
            raise SystemExit(1)
