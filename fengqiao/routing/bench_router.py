"""`fengqiao bench router [--titles 50000] [--model PATH] [--no-train]`: the category classifier's speed.

Pinned to one CPU core: titles/s of batch prediction (`Classifier.predict` on lists of 1,000
titles) and of one title at a time (as intake calls it), both with the terms; the model file's size and load
time; and the time to train the shipped model from the cold-start data (`train_from_pairs`, internal
calibration included). Titles: the labelled and unlabelled Teddy-Cup titles of the shared data, repeated as
needed. The last line: ``router: N titles/s on one core, model X MB, training Y s``.
"""

import contextlib
import csv
import os
import time
from pathlib import Path

from django.core.management.base import CommandError

from fengqiao.routing import store, teddy
from fengqiao.routing.classifier import Classifier, ModelFileError, train_from_pairs

UNLABELLED = ("teddy2020c_fj3_messages_votes.csv", "teddy2020c_fj4_messages_replies.csv")
BATCH = 1_000


def add_arguments(parser):
    """`fengqiao bench router` (registered with `fengqiao.core.bench.register` in `RoutingConfig.ready`)."""
    parser.add_argument("--titles", type=int, default=50_000, help="titles to classify (50000)")
    parser.add_argument("--single", type=int, default=2_000, help="of which classified one at a time (2000)")
    parser.add_argument("--model", metavar="PATH", help=f"model to time (default: the shipped {store.SHIPPED.name})")
    parser.add_argument("--no-train", action="store_true", help="do not time the training")


@contextlib.contextmanager
def one_core():
    """Run on a single CPU (the first this process may use); every thread of the process shares it."""
    affinity = getattr(os, "sched_getaffinity", None)
    before = affinity(0) if affinity else None
    if before:
        os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        if before:
            os.sched_setaffinity(0, before)


def bench_titles(shared_dir=None):
    folder = teddy.complaints_dir(shared_dir)
    pairs = teddy.labelled_titles(shared_dir)
    found = [t for side in ("train", "test") for t, _ in pairs[side]]
    for name in UNLABELLED:
        with contextlib.suppress(FileNotFoundError), open(folder / name, encoding="utf-8-sig", newline="") as fh:
            found.extend(row["留言主题"] for row in csv.DictReader(fh))
    return found


def run(out, *, titles=50_000, single=2_000, model=None, no_train=False, **_):
    if titles < 1 or single < 0:
        raise CommandError("--titles must be positive and --single at least 0")
    path = Path(model) if model else store.SHIPPED
    try:
        pool = bench_titles()
    except teddy.SharedDataMissing as exc:
        raise CommandError(str(exc)) from None
    work = (pool * (titles // len(pool) + 1))[:titles]
    with one_core():
        started = time.perf_counter()
        try:
            classifier = Classifier.load(path)
        except ModelFileError as exc:
            raise CommandError(str(exc)) from None
        load_seconds = time.perf_counter() - started
        classifier.predict(work[:BATCH])  # warm-up: jieba's dictionary, first-call costs
        started = time.perf_counter()
        for start in range(0, len(work), BATCH):
            classifier.predict(work[start : start + BATCH])
        batch_rate = len(work) / (time.perf_counter() - started)
        single_rate = None
        if single:
            started = time.perf_counter()
            for title in work[:single]:
                classifier.predict([title])
            single_rate = single / (time.perf_counter() - started)
        size = path.stat().st_size / 1e6
        out(f"model: {path} ({size:.1f} MB, {len(classifier.featurizer.terms)} terms, loaded in {load_seconds:.2f} s)")
        out(f"batch: {batch_rate:,.0f} titles/s on one core ({len(work)} titles in lists of {BATCH})")
        if single_rate:
            out(f"one at a time: {single_rate:,.0f} titles/s ({1000 / single_rate:.2f} ms a title, {single} titles)")
        training = "not timed"
        if not no_train:
            pairs = teddy.train_pairs()
            started = time.perf_counter()
            trained = train_from_pairs(pairs, seed=0)
            training = f"{time.perf_counter() - started:.1f} s"
            out(f"training: {training} on one core ({trained.meta['texts']} texts, calibration included)")
    out(f"router: {batch_rate:,.0f} titles/s on one core, model {size:.1f} MB, training {training}")
