"""Scoring a classifier on labelled texts: per-category precision, recall, F1, the confusion matrix, macro-F1."""

from dataclasses import dataclass

import numpy as np

NONE = "(none)"  # the prediction for a text without any known term


@dataclass
class Evaluation:
    labels: list  # the true categories, then any predicted category that is not one of them
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    confusion: np.ndarray  # rows: true label, columns: predicted label (same order as `labels`)
    macro_f1: float  # mean F1 over the true categories
    accuracy: float
    mean_confidence: float
    rows: int

    def lines(self):
        width = max(len("category"), *(len(label) for label in self.labels))
        yield f"{'category'.ljust(width)}  precision  recall     F1  support"
        true_count = int((self.support > 0).sum())
        for i in range(true_count):
            yield (
                f"{self.labels[i].ljust(width)}  {self.precision[i]:9.3f}  {self.recall[i]:6.3f}  {self.f1[i]:5.3f}"
                f"  {self.support[i]:7d}"
            )
        yield ""
        yield "confusion matrix (rows: true category, columns: predicted, numbered as below)"
        yield "      " + "".join(f"{j + 1:>6d}" for j in range(len(self.labels)))
        for i in range(true_count):
            yield f"{i + 1:>4d}  " + "".join(f"{n:>6d}" for n in self.confusion[i])
        yield "  " + "; ".join(f"{j + 1} {label}" for j, label in enumerate(self.labels))
        yield ""
        yield f"accuracy {self.accuracy:.3f}; mean confidence {self.mean_confidence:.3f}"


def evaluate(classifier, pairs):
    texts = [text for text, _ in pairs]
    truth = [label for _, label in pairs]
    predictions = classifier.predict(texts)
    predicted = [p.category or NONE for p in predictions]
    labels = sorted(set(truth))
    labels += sorted(set(predicted) - set(labels))
    index = {label: i for i, label in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(confusion, ([index[t] for t in truth], [index[p] for p in predicted]), 1)
    tp = np.diag(confusion).astype(float)
    support = confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / confusion.sum(axis=0))
        recall = np.nan_to_num(tp / support)
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    true_count = len(set(truth))
    return Evaluation(
        labels=labels,
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        confusion=confusion,
        macro_f1=float(f1[:true_count].mean()) if true_count else 0.0,
        accuracy=float(tp.sum() / len(pairs)) if pairs else 0.0,
        mean_confidence=float(np.mean([p.confidence for p in predictions])) if predictions else 0.0,
        rows=len(pairs),
    )
