"""`fengqiao import-addresses FILE.csv [--layer CODE] [--crs wgs84|gcj02]`"""

from django.core.management.base import BaseCommand, CommandError

from fengqiao.areas.addresses import AddressImportError, import_address_file
from fengqiao.areas.models import GridLayer


class Command(BaseCommand):
    help = (
        "Import standard addresses (标准地址) from CSV, UTF-8 or GBK, with the columns address (or 地址/标准地址), "
        "lon (经度), lat (纬度) and optionally area_code (区划代码). Each building point is located in the layer's "
        "grids. All or nothing; every bad line is reported; importing the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file")
        parser.add_argument("--layer", default=GridLayer.COMPREHENSIVE, help="grid layer code (comprehensive)")
        parser.add_argument("--crs", choices=("wgs84", "gcj02"), default="wgs84", help="coordinates (wgs84)")
        parser.add_argument("--actor", default="cli:import-addresses", help="name recorded in the audit log")

    def handle(self, *args, **options):
        try:
            report = import_address_file(
                options["file"], actor=options["actor"], layer=options["layer"], crs=options["crs"]
            )
        except AddressImportError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(report.summary())
