"""The ticket classifier: lemma/char TF-IDF plus word embeddings, linear model, temperature."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from classifier.calibration import fit_temperature, softmax
from classifier.crossval import out_of_fold_scores
from classifier.embeddings import WORDLLAMA, embed, encoder_identity
from classifier.errors import ClassifierError
from classifier.sparse_features import SparseRows, concatenate_columns, tfidf_rows
from classifier.text import SpacyNormalizer


class Assessment(NamedTuple):
    """What the model says of each text: probabilities, novelty in [0, 1] and the verdict,
    the unit embeddings both were measured in (new topics are matched in them too), and the
    cosine similarity to the nearest labelled ticket the model keeps (+inf without a
    detector: then nothing counts as closer to an unlabelled ticket)."""

    proba: np.ndarray
    novelty: np.ndarray
    novel: np.ndarray
    embeddings: np.ndarray
    nearest: np.ndarray


def check_training_data(
    texts: Sequence[str], labels: Sequence[str]
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Reject unusable training data with a clear message; return lists, classes, label indices."""
    texts = list(texts)
    labels = [str(label) for label in labels]
    if not texts:
        raise ClassifierError("Cannot train on an empty set of examples.")
    if len(texts) != len(labels):
        raise ClassifierError(f"Got {len(texts)} texts but {len(labels)} labels; they must match.")
    classes, y_index = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    if len(classes) < 2:
        raise ClassifierError("Training needs examples of at least 2 different labels.")
    return texts, labels, classes.astype(str), y_index


EXACT_SOLVER_MAX_EXAMPLES = 20_000
SOLVERS = ("auto", "exact", "sgd")
SGD_EPOCHS = 6
SEED_MAX = np.iinfo(np.int32).max  # SGDClassifier draws its one-vs-rest seeds below this
NORMALISE_CHUNK = 5_000  # texts lemmatised between two progress reports (seconds of work)

Progress = Callable[[str, int, int], None]

# `fit(texts, labels)` has scikit-learn's signature, and cross-validation and `train()` build
# the estimators they fit, so a caller that must hear from inside every fit (the worker's
# heartbeat, which also stops a shutting-down training) sets this for its own thread and
# context, as scikit-learn's own `config_context` does. Unset, fit reports nothing.
_fit_progress: ContextVar[Progress | None] = ContextVar("fit_progress", default=None)


@contextmanager
def reporting_fit_progress(progress: Progress) -> Iterator[None]:
    """Within the block, every `TicketClassifier.fit` calls `progress(stage, step, total)`
    between its sub-steps and SGD epochs; an exception it raises stops the fit there."""
    token = _fit_progress.set(progress)
    try:
        yield
    finally:
        _fit_progress.reset(token)


def _no_progress(_stage: str, _step: int, _total: int) -> None:
    """What fit reports to when nobody listens."""


def resolve_solver(solver: str, n_examples: int) -> str:
    """ "exact" (LinearSVC) or "sgd" (averaged SGD); "auto" picks by training-set size."""
    if solver not in SOLVERS:
        raise ClassifierError(f"Unknown solver {solver!r}; use one of {', '.join(SOLVERS)}.")
    if solver != "auto":
        return solver
    return "exact" if n_examples <= EXACT_SOLVER_MAX_EXAMPLES else "sgd"


def _fit_word_vectorizer(normalized: list[str]) -> TfidfVectorizer:
    """Word 1-3-grams seen in two texts or more; all of them if none repeats (tiny sets)."""
    try:
        return TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True, min_df=2).fit(normalized)
    except ValueError:  # pruning left no terms: without repeats, singletons are all there is
        return TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True).fit(normalized)


class TicketClassifier(ClassifierMixin, BaseEstimator):
    """Predict a ticket's label with calibrated confidence, fast enough for one text at a time.

    Chosen by cross-validation on Banking77's train split (BENCHMARKS.md): word 1-3 +
    char_wb 2-5 TF-IDF over masked lower-case lemmas (n-grams seen at least twice) plus
    WordLlama embeddings (weight 1.5) into a LinearSVC (C=0.5). Against the earlier word
    1-2 with weight 2, nested-CV accuracy rose from 0.914 to 0.918 and the error rate among
    the 70 % most confident fell from 0.84 % to 0.79 %, which is what coverage at a 0.99
    precision target depends on. Keeping word n-grams seen once gave the same quality
    with three times the vocabulary (58k vs 20k terms at 10k tickets). Without embeddings
    accuracy was 0.912; LogisticRegression C=20 ranked no better and was 2-4x slower to fit.
    ``temperature=None`` makes ``fit`` estimate it by internal cross-validation;
    ``train()`` passes the value it already fitted on its own out-of-fold scores.

    Above EXACT_SOLVER_MAX_EXAMPLES (``solver="auto"``) the LinearSVC solver grows much
    faster than the data (one 80,000-ticket fold took 541 s), so the same hinge loss is
    fitted by averaged SGD,
    which stays linear: 6 epochs on 2 cores took 34 s at 80,000 tickets with 0.922 test
    accuracy, against 0.927 for LinearSVC at 10,003 (benchmarks/training_scale.py). Only
    ``coef_`` and ``intercept_`` are kept, so both paths save and predict the same way.

    ``encoder`` names a pretrained sentence encoder to use in place of WordLlama for the
    dense block and the novelty bank (``classifier.embeddings``); ``fit`` records its
    identity in ``encoder_`` and every later embedding checks it (``embed``).
    """

    def __init__(
        self,
        pipeline: str | None = None,
        C: float = 0.5,
        embedding_weight: float = 1.5,
        temperature: float | None = None,
        calibration_folds: int = 5,
        random_state: int = 0,
        solver: str = "auto",
        encoder: str | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.C = C
        self.embedding_weight = embedding_weight
        self.temperature = temperature
        self.calibration_folds = calibration_folds
        self.random_state = random_state
        self.solver = solver
        self.encoder = encoder

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Models stored before ``encoder`` existed were trained with WordLlama."""
        state.setdefault("encoder", None)
        super().__setstate__(state)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit embeddings of texts in the space this model was trained in (its features,
        its novelty bank and the topics found among its novel tickets all live there).

        Raises ClassifierError when that encoder is not available in this process, or is
        not the one the model recorded (other weights at the same place).
        """
        recorded = getattr(self, "encoder_", WORDLLAMA)
        try:
            available = encoder_identity(self.encoder)
        except ClassifierError as exc:
            raise ClassifierError(
                f"This model was trained with the sentence encoder {self.encoder!r}, which "
                f"cannot be loaded here ({exc}). Install the same weights there, or retrain."
            ) from exc
        if available != recorded:
            raise ClassifierError(
                f"This model was trained with encoder {recorded}, but {self.encoder!r} is "
                f"now {available}. Restore the weights it was trained with, or retrain."
            )
        return embed(texts, self.encoder)

    def _stack(
        self, word: sparse.csr_matrix, char: sparse.csr_matrix, embedded: np.ndarray
    ) -> sparse.csr_matrix:
        """Lemma word/char TF-IDF beside the unit embeddings scaled by their weight."""
        weighted = sparse.csr_matrix(embedded * self.embedding_weight)
        return sparse.hstack([word, char, weighted], format="csr")

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TicketClassifier:
        """Learn from labelled texts; returns self as scikit-learn expects."""
        texts, labels, classes, y_index = check_training_data(texts, labels)
        report = _fit_progress.get() or _no_progress
        self.encoder_ = encoder_identity(self.encoder)
        if self.temperature is None:
            out_of_fold = out_of_fold_scores(
                lambda: clone(self).set_params(temperature=1.0),
                texts,
                labels,
                y_index,
                folds=self.calibration_folds,
                random_state=self.random_state,
            )
            held_out = out_of_fold.held_out
            self.temperature_ = fit_temperature(out_of_fold.scores[held_out], y_index[held_out])
        else:
            self.temperature_ = float(self.temperature)
        normalizer = SpacyNormalizer(pipeline=self.pipeline).fit(texts)
        starts = range(0, len(texts), NORMALISE_CHUNK)
        normalized: list[str] = []
        for done, start in enumerate(starts):  # texts are lemmatised one by one: chunks agree
            report("fit: normalising", done, len(starts))
            normalized += normalizer.transform(texts[start : start + NORMALISE_CHUNK])
        report("fit: vectorising", 0, 4)
        self.word_ = _fit_word_vectorizer(normalized)
        report("fit: vectorising", 1, 4)
        self.char_ = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
        ).fit(normalized)
        report("fit: vectorising", 2, 4)
        word = self.word_.transform(normalized)
        report("fit: vectorising", 3, 4)
        char = self.char_.transform(normalized)
        report("fit: embeddings", 0, 1)
        features = self._stack(word, char, self.embed(texts))
        coef, self.intercept_ = self._fit_linear(features, y_index, len(classes), report)
        # Single precision halves what every web process holds (82 MB of weights at 100,000
        # tickets); scores still come out in double precision from the sparse product.
        self.coef_ = coef.astype(np.float32)
        self.classes_ = classes
        return self

    def _fit_linear(
        self, features: sparse.csr_matrix, y_index: np.ndarray, n_classes: int, report: Progress
    ) -> tuple[np.ndarray, np.ndarray]:
        """The exact solver while it is fast, averaged SGD on the same loss beyond that."""
        n_examples = features.shape[0]
        if resolve_solver(self.solver, n_examples) == "exact":
            report("fit: solver", 0, 1)
            # liblinear shuffles the dual problem; unseeded, two fits on the same tickets
            # differed (by 3e-5 in score), enough to split two runs of one stream apart.
            linear = LinearSVC(C=self.C, random_state=self.random_state).fit(features, y_index)
            return linear.coef_.T.copy(), linear.intercept_.copy()
        return self._fit_sgd(features, y_index, n_classes, report)

    def _fit_sgd(
        self, features: sparse.csr_matrix, y_index: np.ndarray, n_classes: int, report: Progress
    ) -> tuple[np.ndarray, np.ndarray]:
        """One-vs-rest averaged SGD, one binary problem per label, reporting after each.

        The same computation as ``SGDClassifier(max_iter=6, n_jobs=2).fit``, which runs its
        binary problems in two threads too but is silent for the whole solve (34 s at 80,000
        tickets): the same problems and seeds, so the coefficients are identical. (Epochs
        by partial_fit were not: it loses the averaged intercepts between calls, and cost a
        third to a half more.) A callback that raises stops the fit within one problem.
        """
        alpha = 1.0 / (self.C * features.shape[0])  # the same regularisation as LinearSVC's C
        if n_classes == 2:  # one problem, seeded as SGDClassifier seeds a binary fit
            positives, seeds = [1], [self.random_state]
        else:
            positives = list(range(n_classes))
            seeds = list(np.random.RandomState(self.random_state).randint(SEED_MAX, size=n_classes))

        def one_vs_rest(label: int, seed: int) -> tuple[np.ndarray, float]:
            binary = SGDClassifier(
                loss="hinge",
                alpha=alpha,
                average=True,
                max_iter=SGD_EPOCHS,
                tol=None,
                random_state=seed,
            ).fit(features, y_index == label)
            return binary.coef_[0], float(binary.intercept_[0])

        coefs, intercepts = [], []
        report("fit: solver", 0, len(positives))
        with ThreadPoolExecutor(max_workers=2) as pool:  # the SGD loop releases the GIL
            tasks = zip(positives, seeds, strict=True)
            problems = [pool.submit(one_vs_rest, label, seed) for label, seed in tasks]
            try:
                for done, problem in enumerate(problems, start=1):
                    coef, intercept = problem.result()
                    coefs.append(coef)
                    intercepts.append(intercept)
                    report("fit: solver", done, len(positives))
            except BaseException:  # stopped: drop the problems not started; two finish
                pool.shutdown(cancel_futures=True)
                raise
        return np.column_stack(coefs), np.asarray(intercepts)

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Return uncalibrated scores, one column per class (also for two classes)."""
        return self._scores(list(texts), self.embed(texts))

    def _features(
        self, texts: list[str], embedded: np.ndarray, dtype: type = np.float64
    ) -> sparse.csr_matrix:
        """The fitted feature matrix of texts whose embeddings are already computed.

        What ``_stack(word_.transform, char_.transform, embedded)`` gives (then
        ``astype(dtype)``), to the bit (a test compares them), built from the vectorisers'
        own analysers, vocabularies and idf weights in one sparse matrix: scikit-learn's
        transform checks its input four times (looking for dataframes), and the stack
        built nine sparse matrices, which for the one or two tickets of an intake batch
        cost more than counting their n-grams.
        """
        normalized = SpacyNormalizer(pipeline=self.pipeline).transform(texts)
        blocks = [tfidf_rows(self.word_, normalized), tfidf_rows(self.char_, normalized)]
        weighted = embedded * self.embedding_weight
        rows, columns = np.nonzero(weighted)  # row by row, columns ascending: csr's order
        dense = SparseRows(
            weighted[rows, columns],
            columns,
            np.searchsorted(rows, np.arange(len(texts) + 1)),
            weighted.shape[1],
        )
        return concatenate_columns([*blocks, dense], len(texts), dtype)

    def _scores(self, texts: list[str], embedded: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        # Features in the weights' precision: a mixed product would copy the whole weight
        # matrix on every call (1.5 ms for one text at 10,000 tickets).
        features = self._features(texts, embedded, self.coef_.dtype.type)
        scores = np.asarray(features @ self.coef_, dtype=np.float64) + self.intercept_
        if scores.shape[1] == 1:
            scores = np.column_stack([-scores[:, 0], scores[:, 0]]) / 2.0
        return scores

    def assess(self, texts: Sequence[str]) -> Assessment:
        """Probabilities and novelty in one pass (the embeddings serve both).

        A model stored before novelty detection existed, or trained on too few labels to
        calibrate it, flags nothing.
        """
        texts = list(texts)
        embedded = self.embed(texts)
        scores = self._scores(texts, embedded)
        proba = softmax(scores, self.temperature_)
        detector = getattr(self, "novelty_", None)
        if detector is None:
            none = np.zeros(len(texts))
            return Assessment(proba, none, none.astype(bool), embedded, np.full(len(texts), np.inf))
        novelty, novel, nearest = detector.score_with_nearest(
            scores, embedded, temperature=self.temperature_
        )
        return Assessment(proba, novelty, novel, embedded, nearest)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return temperature-calibrated class probabilities (rows sum to 1)."""
        return softmax(self.decision_function(texts), self.temperature_)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Return the most probable label for each text."""
        return self.classes_[self.decision_function(texts).argmax(axis=1)]
