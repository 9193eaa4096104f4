"""`fengqiao classify --input FILE.csv --text-column COLUMN --output OUT.csv [--model PATH]` (see routing.batch)."""

import time

from django.core.management.base import BaseCommand, CommandError

from fengqiao.core.textfiles import FileFormatError
from fengqiao.routing import batch, store
from fengqiao.routing.classifier import ModelFileError


class Command(BaseCommand):
    help = (
        "Classify the texts of one CSV column into categories: writes a copy of the file with the columns "
        "category, confidence and terms added."
    )

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, metavar="FILE.csv", help="CSV in UTF-8 or GBK/GB18030")
        parser.add_argument("--text-column", required=True, metavar="COLUMN", help="header of the text column")
        parser.add_argument("--output", required=True, metavar="OUT.csv", help="the copy to write (UTF-8)")
        parser.add_argument("--model", metavar="PATH", help="router model (default: the active one)")

    def handle(self, *args, input, text_column, output, model, **options):
        started = time.perf_counter()
        try:
            classifier = store.get_classifier(model)
            rows = batch.classify_csv(input, text_column, output, classifier)
        except (FileFormatError, ModelFileError) as exc:
            raise CommandError(f"{exc} (nothing written)") from None
        self.stdout.write(f"classified {rows} rows in {time.perf_counter() - started:.1f} s → {output}")
