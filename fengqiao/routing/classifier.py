"""The category classifier (ADR 0017): one linear model over character n-grams and jieba words.

    classifier = train_from_pairs([(text, category), ...], seed=0)
    classifier.predict(["小区物业乱收停车费"])  # [Prediction(category=…, confidence=0.93, terms=("物业", …))]
    classifier.save(path); Classifier.load(path)

Training fits two linear models on the same TF-IDF features and adds their scores: a linear SVM, and an NB-SVM
(one-vs-rest SVMs on features scaled by naive-Bayes log-count ratios, Wang & Manning 2012). Each member's scores
are divided by their spread on the training texts before adding, so the sum is again one weight matrix and one
bias: prediction is a sparse product, and the terms of a text that pushed it into its category are read off the
weights (`terms`). `confidence` is the softmax of the scores at a temperature fitted on out-of-fold scores of an
internal 3-fold cross-validation (minimum log loss), so it estimates the probability that the category is right;
with too few texts per category to cross-validate, the temperature is 1 and the model says it is uncalibrated.

Deterministic given the seed (liblinear's shuffling is seeded; vocabulary order is sorted). Saved as one .npz
(numpy arrays and a JSON document as bytes; no pickle) whose zip entries carry a fixed date, so the same
training gives the same file.
"""

import io
import json
import os
import uuid
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.svm import LinearSVC

from fengqiao.routing.features import Featurizer, jieba_version, normalise

FORMAT = "fengqiao-router/1"
SVM_C = 0.5
NB_C = 0.3
NB_ALPHA = 1.0
MIN_DF = 2
CALIBRATION_FOLDS = 3
TERMS = 5
_TEMPERATURES = np.geomspace(0.05, 50, 301)


class ModelFileError(ValueError):
    """A model file that is missing or not a router model; the message names the file."""


@dataclass(frozen=True)
class Prediction:
    category: str  # "" when the text has no term the model knows (nothing to decide on)
    confidence: float  # probability that `category` is right (see the module docstring)
    terms: tuple[str, ...]  # the text's terms that contributed most to `category`, strongest first


class Classifier:
    def __init__(self, *, classes, featurizer, weights, bias, temperature, meta):
        self.classes = list(classes)
        self.featurizer = featurizer
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)  # categories × terms
        self.bias = np.asarray(bias, dtype=np.float64)
        self.temperature = float(temperature)
        self.meta = dict(meta)
        self._terms = featurizer.terms
        self._useful = np.array([any(ch.isalnum() for ch in term) for term in self._terms])

    def scores(self, texts):
        """Raw linear scores (texts × categories) and the feature matrix."""
        matrix = self.featurizer.transform([normalise(t) for t in texts])
        return np.asarray(matrix @ self.weights.T, dtype=np.float64) + self.bias, matrix

    def probabilities(self, texts):
        scores, matrix = self.scores(texts)
        return _softmax(scores * self.temperature), matrix

    def predict(self, texts, *, terms=TERMS):
        """One `Prediction` per text."""
        texts = list(texts)
        if not texts:
            return []
        probabilities, matrix = self.probabilities(texts)
        best = probabilities.argmax(axis=1)
        # Contribution of each (text, term) to the text's predicted category: tf-idf value × weight.
        rows = np.repeat(np.arange(len(texts)), np.diff(matrix.indptr))
        contribution = matrix.data * self.weights[best[rows], matrix.indices]
        result = []
        for i in range(len(texts)):
            start, end = matrix.indptr[i], matrix.indptr[i + 1]
            if start == end:
                result.append(Prediction("", 0.0, ()))
                continue
            result.append(
                Prediction(
                    self.classes[best[i]],
                    float(probabilities[i, best[i]]),
                    self._top_terms(matrix.indices[start:end], contribution[start:end], terms),
                )
            )
        return result

    def _top_terms(self, indices, contribution, limit):
        chosen = []
        for k in np.argsort(-contribution, kind="stable"):
            if contribution[k] <= 0 or len(chosen) == limit:
                break
            if not self._useful[indices[k]]:
                continue
            term = self._terms[indices[k]]
            # Overlapping n-grams say the same thing twice: keep the stronger of 物业 / 物业管.
            if not any(term in other or other in term for other in chosen):
                chosen.append(term)
        return tuple(chosen)

    def save(self, path):
        """Write the model to `path` (.npz) atomically; returns the path."""
        path = Path(path)
        meta = {
            **self.meta,
            "format": FORMAT,
            "classes": self.classes,
            "temperature": self.temperature,
            "char_terms": self.featurizer.char_terms,
            "word_terms": self.featurizer.word_terms,
        }
        arrays = {
            "weights": self.weights,
            "bias": self.bias,
            "idf": self.featurizer.idf,
            "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False, sort_keys=True).encode(), dtype=np.uint8),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"  # not mkstemp: that would make it 0600
        try:
            with open(scratch, "xb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, array in arrays.items():
                    buffer = io.BytesIO()
                    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
                    entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                    entry.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(entry, buffer.getvalue())
            os.replace(scratch, path)
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path):
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in ("weights", "bias", "idf", "meta")}
        except FileNotFoundError:
            raise ModelFileError(f"{path}: model file not found") from None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise ModelFileError(f"{path}: not a router model ({exc})") from None
        try:
            meta = json.loads(arrays["meta"].tobytes().decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{path}: not a router model (metadata: {exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError(f"{path}: not a router model of format {FORMAT}")
        meta.pop("format")
        try:
            classes, temperature = meta.pop("classes"), float(meta.pop("temperature"))
            featurizer = Featurizer(meta.pop("char_terms"), meta.pop("word_terms"), arrays["idf"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: not a router model (metadata: {exc!r})") from None
        weights = arrays["weights"]
        if weights.shape != (len(classes), len(featurizer.terms)) or arrays["bias"].shape != (len(classes),):
            raise ModelFileError(f"{path}: weights do not match the vocabulary and categories")
        return cls(
            classes=classes,
            featurizer=featurizer,
            weights=weights,
            bias=arrays["bias"],
            temperature=temperature,
            meta=meta,
        )


def _softmax(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _svm(matrix, y, seed, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # liblinear's dual at max_iter is still a good fit
        return LinearSVC(class_weight="balanced", random_state=seed, max_iter=5000, **kwargs).fit(matrix, y)


def _member_svm(matrix, y, n_classes, seed):
    model = _svm(matrix, y, seed, C=SVM_C)
    if n_classes == 2:  # liblinear answers a two-class problem with one row: class 1 against class 0
        return np.vstack([-model.coef_, model.coef_]), np.array([-model.intercept_[0], model.intercept_[0]])
    return model.coef_, model.intercept_


def _member_nbsvm(matrix, y, n_classes, seed):
    present = matrix.copy()
    present.data[:] = 1.0
    weights = np.zeros((n_classes, matrix.shape[1]))
    bias = np.zeros(n_classes)
    for k in range(n_classes):
        positive = y == k
        p = NB_ALPHA + np.asarray(present[positive].sum(axis=0)).ravel()
        q = NB_ALPHA + np.asarray(present[~positive].sum(axis=0)).ravel()
        ratio = np.log((p / p.sum()) / (q / q.sum()))
        model = _svm(matrix.multiply(ratio).tocsr(), positive.astype(np.int8), seed, C=NB_C)
        weights[k] = model.coef_[0] * ratio
        bias[k] = model.intercept_[0]
    return weights, bias


def _fit_linear(featurizer, texts, y, n_classes, seed):
    """The summed, spread-normalised members: (weights, bias)."""
    matrix = featurizer.transform(texts).astype(np.float64)
    weights = np.zeros((n_classes, matrix.shape[1]))
    bias = np.zeros(n_classes)
    for member in (_member_svm, _member_nbsvm):
        w, b = member(matrix, y, n_classes, seed)
        scores = matrix @ w.T + b
        spread = (scores - scores.mean(axis=1, keepdims=True)).std() or 1.0
        weights += w / spread
        bias += b / spread
    return weights.astype(np.float32), bias


def _temperature(texts, y, n_classes, seed):
    """Softmax temperature of least out-of-fold log loss, or None when the data are too small to tell."""
    counts = Counter(zip(y.tolist(), texts, strict=True))
    distinct = np.bincount([label for label, _text in counts], minlength=n_classes)
    if distinct.min() < CALIBRATION_FOLDS:
        return None
    folds = StratifiedGroupKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=seed)
    out_of_fold = np.zeros((len(texts), n_classes))
    for train, held_out in folds.split(texts, y, groups=texts):
        if len(np.unique(y[train])) < n_classes:
            return None
        train_texts = [texts[i] for i in train]
        featurizer = Featurizer.fit(train_texts, min_df=MIN_DF)
        weights, bias = _fit_linear(featurizer, train_texts, y[train], n_classes, seed)
        out_of_fold[held_out] = featurizer.transform([texts[i] for i in held_out]) @ weights.T + bias
    losses = [-np.log(_softmax(out_of_fold * t)[np.arange(len(y)), y] + 1e-12).mean() for t in _TEMPERATURES]
    return float(_TEMPERATURES[int(np.argmin(losses))])


def train_from_pairs(pairs, seed=0, *, source=""):
    """Train on (text, category) pairs; `source` describes the data in the model's metadata."""
    texts, labels = [], []
    for text, label in pairs:
        text, label = normalise(text), (label or "").strip()
        if text and label:
            texts.append(text)
            labels.append(label)
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"need texts of at least two categories to learn from (got {len(classes)})")
    y = np.searchsorted(classes, labels)
    featurizer = Featurizer.fit(texts, min_df=MIN_DF)
    weights, bias = _fit_linear(featurizer, texts, y, len(classes), seed)
    temperature = _temperature(texts, y, len(classes), seed)
    meta = {
        "seed": seed,
        "source": source,
        "texts": len(texts),
        "per_category": {c: int(n) for c, n in zip(classes, np.bincount(y), strict=True)},
        "calibrated": temperature is not None,
        "features": f"tf-idf (sublinear) of character 1–3-grams and jieba words, min_df {MIN_DF}",
        "members": f"LinearSVC C={SVM_C} + NB-SVM C={NB_C} alpha={NB_ALPHA}, class-balanced",
        "jieba": jieba_version(),
    }
    return Classifier(
        classes=classes,
        featurizer=featurizer,
        weights=weights,
        bias=bias,
        temperature=1.0 if temperature is None else temperature,
        meta=meta,
    )
