"""The cold-start data: the labelled 2020 Teddy-Cup C messages in the shared data folder (ADR 0017).

Read from ``settings.SHARED_DATA_DIR / "complaints"`` (see SOURCES.md there):

- `teddy2020c_fj2_subject_labels.csv` + `split.csv`: 9,210 titles in 7 first-level categories, split 7,357 train /
  1,853 test, grouped so that identical (whitespace-normalised) titles stay on one side;
- `teddy2020c_fj2_fullfields_subset1842.csv` and `teddy2020c_fj2_sample495.csv`: full messages (title and
  text) of some of those rows, **on both sides of the split**. A full message is used for training only when its
  normalised title is a train title and not a test title; it then counts as one more training text
  (title + "。" + text) with its category.
"""

import csv
from pathlib import Path

from django.conf import settings

from fengqiao.routing.features import normalise

LABELS = "teddy2020c_fj2_subject_labels.csv"
SPLIT = "split.csv"
FULL_TEXTS = (("teddy2020c_fj2_fullfields_subset1842.csv", "一级标签"), ("teddy2020c_fj2_sample495.csv", "一级分类"))
SOURCE = (
    "2020 Teddy-Cup C (附件2): train rows of split.csv (teddy2020c_fj2_subject_labels.csv) and the full texts "
    "of the 1842/495-row files whose title is on the train side"
)


class SharedDataMissing(FileNotFoundError):
    pass


def complaints_dir(shared_dir=None):
    folder = Path(shared_dir if shared_dir is not None else settings.SHARED_DATA_DIR) / "complaints"
    for name in (LABELS, SPLIT):
        if not (folder / name).is_file():
            raise SharedDataMissing(
                f"{folder / name} not found: the shared data folder is absent (set FENGQIAO_SHARED_DATA_DIR)"
            )
    return folder


def _rows(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def labelled_titles(shared_dir=None):
    """{"train": [(title, category), …], "test": [(title, category), …]} in file order."""
    folder = complaints_dir(shared_dir)
    side = {row["msg_id"]: row["split"] for row in _rows(folder / SPLIT)}
    result = {"train": [], "test": []}
    for row in _rows(folder / LABELS):
        result[side[row["msg_id"]]].append((row["留言主题"], row["一级标签"]))
    return result


def train_pairs(shared_dir=None):
    """Training texts of the shipped model: the train titles, then the train-side full messages."""
    full = [(f"{title.strip()}。{text.strip()}", category) for title, text, category in full_messages(shared_dir)]
    return labelled_titles(shared_dir)["train"] + full


def full_messages(shared_dir=None):
    """(title, text, category) of the full messages whose title is on the train side (and not the test side)."""
    folder = complaints_dir(shared_dir)
    titles = labelled_titles(shared_dir)
    train_titles = {normalise(t) for t, _ in titles["train"]}
    test_titles = {normalise(t) for t, _ in titles["test"]}
    categories = {c for _, c in titles["train"]}
    seen = set()
    result = []
    for name, column in FULL_TEXTS:
        for row in _rows(folder / name):
            title, text, category = row["留言主题"], row["留言详情"], row[column].strip()
            key = (normalise(title), normalise(text))
            if key[0] in test_titles or key[0] not in train_titles or category not in categories or key in seen:
                continue
            seen.add(key)
            result.append((title, text, category))
    return result


def held_out_pairs(shared_dir=None):
    """The test titles of split.csv: never trained on; `fengqiao eval-router` scores them."""
    return labelled_titles(shared_dir)["test"]
