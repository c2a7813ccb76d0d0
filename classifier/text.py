"""spaCy normalisation of ticket texts (lemmas), shared by training and prediction."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from sklearn.base import BaseEstimator, TransformerMixin

from classifier.errors import ClassifierError
from classifier.masking import mask_sensitive

if TYPE_CHECKING:
    import spacy
    from sklearn.utils import Tags

BLANK_PIPELINE = "blank"


@lru_cache(maxsize=4)
def build_nlp(pipeline: str | None = None) -> spacy.Language:
    """Build (once per name) the spaCy pipeline; the blank one lemmatises offline via lookups."""
    import spacy  # deferred: mask_sensitive callers (logging) should not pay for spaCy

    if pipeline is None or pipeline == BLANK_PIPELINE:
        nlp = spacy.blank("en")
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()
        return nlp
    try:
        return spacy.load(pipeline)
    except OSError as exc:
        raise ClassifierError(
            f"spaCy pipeline {pipeline!r} is not installed; install it "
            f"(python -m spacy download {pipeline}) or use the default blank pipeline."
        ) from exc


class SpacyNormalizer(TransformerMixin, BaseEstimator):
    """Turn raw ticket texts into masked lower-case lemmas so inflections share features."""

    def __init__(self, pipeline: str | None = None, batch_size: int = 256) -> None:
        self.pipeline = pipeline
        self.batch_size = batch_size

    def fit(self, texts: Iterable[str], y: object = None) -> SpacyNormalizer:
        """Validate the pipeline early; the normaliser itself learns nothing."""
        build_nlp(self.pipeline)
        return self

    def transform(self, texts: Iterable[str]) -> list[str]:
        """Lemmatise lower-cased masked texts in batches via nlp.pipe (lookups are lower-case)."""
        nlp = build_nlp(self.pipeline)
        lowered = (mask_sensitive(text).lower() for text in texts)
        return [
            " ".join(token.lemma_ for token in doc if not token.is_space)
            for doc in nlp.pipe(lowered, batch_size=self.batch_size)
        ]

    def __sklearn_tags__(self) -> Tags:
        """Declare the transformer stateless so sklearn does not demand fitted attributes."""
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
