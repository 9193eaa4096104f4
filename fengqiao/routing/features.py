"""Text features of the category classifier (ADR 0017): TF-IDF of character 1–3-grams and of jieba words.

Both blocks use sublinear term frequency (1 + ln tf) and smoothed IDF (ln((1 + n) / (1 + df)) + 1), each block
normalised to unit length on its own, as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` does; the
vocabulary and IDF are stored with the model, so a loaded model computes exactly the features it was trained on.
"""

import logging
import re
import threading
import unicodedata

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

CHAR_NGRAMS = (1, 3)
_WHITESPACE = re.compile(r"\s+")
_tokenizer = None
_tokenizer_lock = threading.Lock()


def normalise(text):
    """NFKC (full-width letters and digits → ASCII), lower case, no whitespace at all (Chinese needs none)."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text or "")).lower()


def jieba_tokenizer():
    """One jieba tokenizer per process, with its bundled dictionary (no download; built once, ~1 s)."""
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                import jieba

                logging.getLogger("jieba").setLevel(logging.WARNING)  # it logs its dictionary build to stderr
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                _tokenizer = tokenizer
    return _tokenizer


def words(text):
    """jieba words (precise mode, HMM for unknown words) of an already normalised text."""
    return jieba_tokenizer().lcut(text)


def jieba_version():
    import jieba

    return jieba.__version__


class Featurizer:
    """Fixed vocabulary (character n-grams, then words) and IDF → sparse TF-IDF rows."""

    def __init__(self, char_terms, word_terms, idf):
        self.char_terms = list(char_terms)
        self.word_terms = list(word_terms)
        self.idf = np.asarray(idf, dtype=np.float32)
        if len(self.idf) != len(self.char_terms) + len(self.word_terms):
            raise ValueError("the IDF vector does not match the vocabulary")
        self._chars = CountVectorizer(
            analyzer="char",
            ngram_range=CHAR_NGRAMS,
            lowercase=False,
            vocabulary={t: i for i, t in enumerate(self.char_terms)},
            dtype=np.float32,
        )
        self._words = CountVectorizer(
            analyzer=words, vocabulary={t: i for i, t in enumerate(self.word_terms)}, dtype=np.float32
        )

    @property
    def terms(self):
        return self.char_terms + self.word_terms

    @classmethod
    def fit(cls, texts, *, min_df=2):
        """Vocabulary of the n-grams and words in at least `min_df` of the (normalised) texts, and their IDF."""
        chars = CountVectorizer(analyzer="char", ngram_range=CHAR_NGRAMS, lowercase=False, min_df=min_df)
        tokens = CountVectorizer(analyzer=words, min_df=min_df)
        blocks = []
        for vectorizer in (chars, tokens):
            try:
                counts = vectorizer.fit_transform(texts)
            except ValueError:  # "After pruning, no terms remain" and its kin
                raise ValueError(f"too little text to learn from: no term occurs in {min_df} texts") from None
            df = np.bincount(counts.indices, minlength=counts.shape[1])
            blocks.append((vectorizer.get_feature_names_out().tolist(), df))
        n = len(texts)
        idf = np.concatenate([np.log((1 + n) / (1 + df)) + 1 for _terms, df in blocks])
        return cls(blocks[0][0], blocks[1][0], idf)

    def transform(self, texts):
        """CSR matrix (len(texts) × vocabulary) of already normalised texts."""
        blocks = []
        for vectorizer in (self._chars, self._words):
            counts = vectorizer.transform(texts).tocsr()
            counts.sort_indices()
            blocks.append(counts)
        matrix = sparse.hstack(blocks, format="csr", dtype=np.float32)
        matrix.data = np.log(matrix.data) + 1
        matrix.data *= self.idf[matrix.indices]
        # Unit length per block: the character block spans columns [0, len(char_terms)).
        rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        block = rows * 2 + (matrix.indices >= len(self.char_terms))
        squares = matrix.data.astype(np.float64) ** 2
        norms = np.sqrt(np.bincount(block, weights=squares, minlength=2 * matrix.shape[0]))
        matrix.data /= norms[block].astype(np.float32)
        return matrix
