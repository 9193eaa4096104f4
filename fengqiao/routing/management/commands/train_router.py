"""`fengqiao train-router --input FILE --text-column C --label-column L [--output PATH] [--seed N]`
or `fengqiao train-router --cold-start [--output PATH]`.

``--input`` trains on a CSV file of (text, category) rows — a deployment's own category tree. ``--cold-start``
rebuilds the shipped model from the Teddy-Cup train rows in the shared data folder (fengqiao/routing/model/
README.md). The model goes to ``--output`` (default ``DATA_DIR/routing/router.npz``, which then becomes the
active model); nothing is written when training fails.
"""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from fengqiao.core.textfiles import FileFormatError
from fengqiao.routing import batch, store, teddy
from fengqiao.routing.classifier import train_from_pairs


class Command(BaseCommand):
    help = "Train a router model (category classifier) from a CSV file of texts and categories."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--input", metavar="FILE", help="CSV in UTF-8 or GBK/GB18030 with a header row")
        source.add_argument(
            "--cold-start", action="store_true", help="the Teddy-Cup train rows of the shared data (shipped model)"
        )
        parser.add_argument("--text-column", metavar="C", help="header of the text column (with --input)")
        parser.add_argument("--label-column", metavar="L", help="header of the category column (with --input)")
        parser.add_argument("--output", metavar="PATH", help="model file (default DATA_DIR/routing/router.npz)")
        parser.add_argument("--seed", type=int, default=0, help="random seed (0); same data and seed, same model")

    def handle(self, *args, input, cold_start, text_column, label_column, output, seed, **options):
        try:
            if cold_start:
                pairs, source = teddy.train_pairs(), teddy.SOURCE
            else:
                if not text_column or not label_column:
                    raise CommandError("--input needs --text-column and --label-column")
                pairs = batch.read_training_pairs(input, text_column, label_column)
                source = f"{Path(input).name}: columns {text_column} / {label_column}"
        except (FileFormatError, teddy.SharedDataMissing) as exc:
            raise CommandError(f"{exc} (nothing written)") from None
        started = time.perf_counter()
        try:
            classifier = train_from_pairs(pairs, seed=seed, source=source)
        except ValueError as exc:
            raise CommandError(f"{exc} (nothing written)") from None
        seconds = time.perf_counter() - started
        path = classifier.save(Path(output) if output else store.deployment_path())
        calibration = (
            f"confidence calibrated (temperature {classifier.temperature:.3g})"
            if classifier.meta["calibrated"]
            else "confidence NOT calibrated (fewer than 3 distinct texts in some category)"
        )
        self.stdout.write(
            f"trained on {classifier.meta['texts']} texts in {len(classifier.classes)} categories in {seconds:.1f} s; "
            f"{calibration}"
        )
        size = path.stat().st_size / 1e6
        self.stdout.write(f"model: {path} ({size:.1f} MB, {len(classifier.featurizer.terms)} terms)")
