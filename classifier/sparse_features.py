"""TF-IDF rows and their column-wise stack, computed as scikit-learn computes them, cheaply.

For the one or two tickets of an intake batch, ``TfidfVectorizer.transform`` costs mostly
its fixed checks (``check_array`` looks for dataframes four times per call) and
``scipy.sparse.hstack`` builds nine matrices. Here the same numbers come from the fitted
vectoriser's own analyser, vocabulary and idf weights, in the same order and the same
floating-point operations (sublinear tf, idf product, scikit-learn's own in-place L2 row
normalisation), so the features are identical to the bit (tests compare them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


_analyzers: WeakKeyDictionary[TfidfVectorizer, Callable[[str], list[str]]] = WeakKeyDictionary()


def _analyzer(vectorizer: TfidfVectorizer) -> Callable[[str], list[str]]:
    """The vectoriser's analyser, built once per fitted vectoriser (it is a pure function
    of the vectoriser's parameters, which a fitted model never changes)."""
    analyze = _analyzers.get(vectorizer)
    if analyze is None:
        analyze = _analyzers[vectorizer] = vectorizer.build_analyzer()
    return analyze


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
    analyze = _analyzer(vectorizer)
    vocabulary = vectorizer.vocabulary_
    indices: list[int] = []
    counts: list[int] = []
    indptr = [0]
    for document in documents:  # CountVectorizer._count_vocab, then its sort_indices
        counter: dict[int, int] = {}
        for feature in analyze(document):
            index = vocabulary.get(feature)
            if index is not None:
                counter[index] = counter.get(index, 0) + 1
        for index in sorted(counter):
            indices.append(index)
            counts.append(counter[index])
        indptr.append(len(indices))
    data = np.asarray(counts, dtype=np.float64)
    columns = np.asarray(indices, dtype=np.int32)
    rows = SparseRows(data, columns, np.asarray(indptr, dtype=np.int32), len(vocabulary))
    if vectorizer.sublinear_tf:  # TfidfTransformer.transform, step by step
        np.log(data, data)
        data += 1.0
    data *= vectorizer.idf_[columns]
    inplace_csr_row_normalize_l2(rows)
    return rows


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
