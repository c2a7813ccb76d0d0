"""The classifier's own TF-IDF and stacking path against scikit-learn's, to the bit."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.embeddings import embed
from classifier.model import TicketClassifier
from classifier.sparse_features import concatenate_columns, tfidf_rows
from classifier.text import SpacyNormalizer
from classifier.training import TrainedModel

ODD_TEXTS = ["?", "zzzz qqqq xxxx", "card card card card card", "PIN!!! 1234 ????"]


def reference_features(model: TicketClassifier, texts: list[str]) -> sparse.csr_matrix:
    """What the classifier computed before: scikit-learn's transforms and hstack."""
    normalized = SpacyNormalizer(pipeline=model.pipeline).transform(texts)
    word, char = model.word_.transform(normalized), model.char_.transform(normalized)
    return model._stack(word, char, embed(texts))


def assert_same_matrix(got: sparse.csr_matrix, want: sparse.csr_matrix) -> None:
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    assert np.array_equal(got.indptr, want.indptr)
    assert np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)  # exact, not close


def test_features_equal_scikit_learns_for_one_text_and_for_a_batch(
    trained: TrainedModel, sample_holdout: tuple[list[str], list[str]]
) -> None:
    model = trained.model
    texts = sample_holdout[0][:120] + ODD_TEXTS
    for batch in [texts[:1], texts[1:3], [ODD_TEXTS[1]], ODD_TEXTS, texts]:
        want = reference_features(model, batch)
        assert_same_matrix(model._features(batch, embed(batch)), want)
        assert_same_matrix(
            model._features(batch, embed(batch), np.float32), want.astype(np.float32)
        )


def test_scores_and_probabilities_equal_the_reference_computation(
    trained: TrainedModel, sample_holdout: tuple[list[str], list[str]]
) -> None:
    model = trained.model
    texts = sample_holdout[0][:60] + ODD_TEXTS
    features = reference_features(model, texts).astype(model.coef_.dtype)
    want = np.asarray(features @ model.coef_, dtype=np.float64) + model.intercept_
    assert np.array_equal(model.decision_function(texts), want)
    assessed = model.assess(texts)
    assert np.array_equal(assessed.proba, model.predict_proba(texts))
    one_by_one = np.vstack([model.assess([text]).proba for text in texts])
    assert np.array_equal(one_by_one, assessed.proba)


def test_tfidf_rows_follow_other_vectoriser_settings_too() -> None:
    corpus = ["the card the card", "a pin", "card pin pin", "nothing here"]
    for vectorizer in [
        TfidfVectorizer(binary=True).fit(corpus),
        TfidfVectorizer(norm="l1", sublinear_tf=True).fit(corpus),
        TfidfVectorizer(sublinear_tf=False, ngram_range=(1, 2)).fit(corpus),
    ]:
        rows = tfidf_rows(vectorizer, [*corpus, "unknown words"])
        got = concatenate_columns([rows], len(corpus) + 1)
        assert_same_matrix(got, sparse.csr_matrix(vectorizer.transform([*corpus, "unknown words"])))


def test_character_ngrams_remembered_by_word_equal_scikit_learns() -> None:
    """Words' n-grams are remembered between calls: a second pass, with every word known,
    and texts with tabs, runs of spaces, capitals and one-letter words give the same rows."""
    corpus = ["The card  was\tdeclined", "a PIN", "card card\n\npin", "x"]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    vectorizer.fit(corpus)
    texts = [*corpus, "declined\u00a0twice, the  CARD", "", "a b c", "unseen zzz"]
    want = sparse.csr_matrix(vectorizer.transform(texts))
    for _ in range(2):
        for batch in [texts, texts[:1], texts[4:6], texts[5:6]]:
            got = concatenate_columns([tfidf_rows(vectorizer, batch)], len(batch))
            assert_same_matrix(got, sparse.csr_matrix(vectorizer.transform(batch)))
        whole = concatenate_columns([tfidf_rows(vectorizer, texts)], len(texts))
        assert_same_matrix(whole, want)
