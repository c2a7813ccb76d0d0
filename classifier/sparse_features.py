"""TF-IDF rows and their column-wise stack, computed as scikit-learn computes them, cheaply.

For the one or two tickets of an intake batch, ``TfidfVectorizer.transform`` costs mostly
its fixed checks (``check_array`` looks for dataframes four times per call) and
``scipy.sparse.hstack`` builds nine matrices. Here the same numbers come from the fitted
vectoriser's own analyser, vocabulary and idf weights, in the same order and the same
floating-point operations (sublinear tf, idf product, scikit-learn's own in-place L2 row
normalisation), so the features are identical to the bit (tests compare them). A word's
character n-grams are counted from the columns remembered for that word, and a batch's rows
are counted in one sort, where scikit-learn counts every n-gram of every text in Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from itertools import chain
from typing import NamedTuple
from weakref import WeakKeyDictionary

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2


class SparseRows(NamedTuple):
    """A CSR matrix's three arrays and width, without building the matrix."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    n_columns: int

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, self.n_columns


Columns = Callable[[str], list[int]]
_columns: WeakKeyDictionary[TfidfVectorizer, Columns] = WeakKeyDictionary()
WORD_CACHE_MAX = 200_000  # distinct words whose character n-grams are remembered
FEW_DOCUMENTS = 4  # below this, rows are counted one by one (numpy's fixed cost is more)


def _feature_columns(vectorizer: TfidfVectorizer) -> Columns:
    """document -> the vocabulary columns of its features, in the analyser's order, those
    outside the vocabulary left out; built once per fitted vectoriser (a pure function of
    its parameters and vocabulary, which a fitted model never changes).

    Character n-grams within word boundaries (``char_wb``) are a function of each word
    alone, so a document's are its words' in turn: each word's columns are computed once
    by the vectoriser's own ``_char_wb_ngrams`` and remembered, which is most of the cost
    of a batch (a ticket's words are nearly all known)."""
    columns = _columns.get(vectorizer)
    if columns is not None:
        return columns
    vocabulary = vectorizer.vocabulary_
    if vectorizer.analyzer == "char_wb":
        preprocess, ngrams = vectorizer.build_preprocessor(), vectorizer._char_wb_ngrams
        spaces, decode = vectorizer._white_spaces, vectorizer.decode
        words: dict[str, list[int]] = {}

        def columns(document: str) -> list[int]:
            found: list[int] = []
            for word in spaces.sub(" ", preprocess(decode(document))).split():
                known = words.get(word)
                if known is None:
                    if len(words) >= WORD_CACHE_MAX:
                        words.clear()
                    known = words[word] = [
                        c for c in map(vocabulary.get, ngrams(word)) if c is not None
                    ]
                found += known
            return found

    else:
        analyze = vectorizer.build_analyzer()

        def columns(document: str) -> list[int]:
            return [c for c in map(vocabulary.get, analyze(document)) if c is not None]

    _columns[vectorizer] = columns
    return columns


def _plain(vectorizer: TfidfVectorizer) -> bool:
    """Whether the vectoriser is of the kind reproduced here (the classifier's own)."""
    return (
        vectorizer.norm == "l2"
        and vectorizer.use_idf
        and not vectorizer.binary
        and vectorizer.input == "content"
        and np.dtype(vectorizer.dtype) == np.float64
    )


def tfidf_rows(vectorizer: TfidfVectorizer, documents: Sequence[str]) -> SparseRows:
    """``vectorizer.transform(documents)`` as arrays: the same values in the same order."""
    if not _plain(vectorizer):
        matrix = sparse.csr_matrix(vectorizer.transform(documents))
        return SparseRows(matrix.data, matrix.indices, matrix.indptr, matrix.shape[1])
    columns = _feature_columns(vectorizer)
    rows = counted([columns(document) for document in documents], len(vectorizer.vocabulary_))
    data, columns_of = rows.data, rows.indices
    if vectorizer.sublinear_tf:  # TfidfTransformer.transform, step by step
        np.log(data, data)
        data += 1.0
    data *= vectorizer.idf_[columns_of]
    inplace_csr_row_normalize_l2(rows)
    return rows


def counted(features: Sequence[list[int]], n_columns: int) -> SparseRows:
    """Count each row's columns into CSR arrays, columns ascending within a row (what
    ``CountVectorizer`` gives once its indices are sorted); counts in float64."""
    if len(features) < FEW_DOCUMENTS:
        indices: list[int] = []
        counts: list[int] = []
        indptr = [0]
        for row in features:
            for column, count in sorted(Counter(row).items()):
                indices.append(column)
                counts.append(count)
            indptr.append(len(indices))
        return SparseRows(
            np.asarray(counts, dtype=np.float64),
            np.asarray(indices, dtype=np.int32),
            np.asarray(indptr, dtype=np.int32),
            n_columns,
        )
    lengths = [len(row) for row in features]  # one sort of (row, column) keys for them all
    flat = np.fromiter(chain.from_iterable(features), dtype=np.int64, count=sum(lengths))
    keys = np.repeat(np.arange(len(features), dtype=np.int64) * n_columns, lengths) + flat
    unique, repeats = np.unique(keys, return_counts=True)
    row_of = unique // n_columns
    return SparseRows(
        repeats.astype(np.float64),
        (unique - row_of * n_columns).astype(np.int32),
        np.searchsorted(row_of, np.arange(len(features) + 1)).astype(np.int32),
        n_columns,
    )


def concatenate_columns(
    blocks: Sequence[SparseRows], n_rows: int, dtype: type = np.float64
) -> sparse.csr_matrix:
    """``sparse.hstack(blocks, format="csr")`` (then ``astype(dtype)``): each row holds the
    first block's entries, then the second's shifted past its columns, and so on."""
    offsets = np.cumsum([0] + [block.n_columns for block in blocks])
    row_of = [np.repeat(np.arange(n_rows), np.diff(block.indptr)) for block in blocks]
    order = np.argsort(np.concatenate(row_of), kind="stable")  # rows; blocks kept in order
    data: np.ndarray = np.concatenate([block.data for block in blocks])[order].astype(dtype)
    index_type = np.int32 if offsets[-1] <= np.iinfo(np.int32).max else np.int64
    shifted = [
        block.indices.astype(index_type) + np.asarray(offset, dtype=index_type)
        for block, offset in zip(blocks, offsets, strict=False)
    ]
    indices = np.concatenate(shifted)[order]
    lengths = sum((np.diff(block.indptr) for block in blocks), np.zeros(n_rows, dtype=np.int64))
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(index_type)
    return sparse.csr_matrix((data, indices, indptr), shape=(n_rows, int(offsets[-1])))
