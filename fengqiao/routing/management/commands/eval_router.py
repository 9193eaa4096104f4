"""`fengqiao eval-router [--model PATH]`: score a router model on the held-out Teddy-Cup test titles.

The test rows are those of ``split.csv`` in the shared data folder (settings.SHARED_DATA_DIR, set by
FENGQIAO_SHARED_DATA_DIR); the shipped model never saw them. The last line reads
``router: macro-F1 X on N test rows``.
"""

from django.core.management.base import BaseCommand, CommandError

from fengqiao.routing import store, teddy
from fengqiao.routing.classifier import ModelFileError
from fengqiao.routing.evaluation import evaluate


class Command(BaseCommand):
    help = "Per-category precision, recall, F1 and the confusion matrix of a router model on the Teddy-Cup test rows."

    def add_arguments(self, parser):
        parser.add_argument("--model", metavar="PATH", help=f"router model (default: the shipped {store.SHIPPED.name})")

    def handle(self, *args, model, **options):
        path = model or store.SHIPPED
        try:
            classifier = store.get_classifier(path)
            pairs = teddy.held_out_pairs()
        except (ModelFileError, teddy.SharedDataMissing) as exc:
            raise CommandError(str(exc)) from None
        result = evaluate(classifier, pairs)
        self.stdout.write(f"model: {path} ({len(classifier.classes)} categories, {classifier.meta.get('texts')} texts)")
        self.stdout.write("")
        for line in result.lines():
            self.stdout.write(line)
        self.stdout.write(f"router: macro-F1 {result.macro_f1:.3f} on {result.rows} test rows")
