"""spaCy normalisation of ticket texts (lemmas), shared by training and prediction."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

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


LEMMA_CACHE_MAX = 200_000  # distinct tokens remembered (the vocabulary grows with typos)
WORD_CACHE_MAX = 50_000  # stretches between spaces remembered (about 10 MB)


class LookupLemmas:
    """What the blank pipeline computes, without building a spaCy token per word.

    Its lookup lemmatiser gives each token ``table.get(text, text)`` and whitespace tokens
    are dropped, so both depend on the token's text alone: the tokenizer's output (token
    hashes, ``Doc.to_array``) is mapped through a cache of lemma by token. And spaCy's
    tokenizer cuts a text at its spaces before anything else and tokenises each stretch
    between them on its own (its special cases hold no space, other than the whitespace
    ones whose tokens are dropped), so the lemmas of each stretch are remembered too, and a
    text already met word by word needs no tokenizer call at all. The same strings as
    ``nlp.pipe`` and ``token.lemma_`` (tests compare the two).
    """

    def __init__(self, nlp: spacy.Language) -> None:
        from spacy.attrs import ORTH

        self._tokenizer, self._strings, self._orth = nlp.tokenizer, nlp.vocab.strings, ORTH
        lemmatizer: Any = nlp.get_pipe("lemmatizer")
        self._table = lemmatizer.lookups.get_table("lemma_lookup", {})
        self._lemmas: dict[int, str | None] = {}  # token hash -> lemma, None: whitespace
        self._words: dict[str, list[str]] = {}  # stretch between spaces -> its lemmas
        rules = getattr(nlp.tokenizer, "rules", None)  # None: not spaCy's own tokenizer
        self._by_words = rules is not None and not any(
            " " in key and not key.isspace() for key in rules
        )

    def normalise(self, lowered: str) -> str:
        """The lemmas of a lower-cased masked text joined by spaces, as `transform` gives."""
        if not self._by_words:
            return " ".join(self._tokens(lowered))
        words, known = [], self._words
        for stretch in lowered.split(" "):
            lemmas = known.get(stretch)
            if lemmas is None:
                if len(known) >= WORD_CACHE_MAX:
                    known.clear()
                lemmas = known[stretch] = self._tokens(stretch)
            words += lemmas
        return " ".join(words)

    def _tokens(self, text: str) -> list[str]:
        """The lemmas of the tokenizer's tokens of `text`, whitespace tokens left out."""
        lemmas, words = self._lemmas, []
        for key in self._tokenizer(text).to_array(self._orth).tolist():
            try:
                lemma = lemmas[key]
            except KeyError:
                lemma = self._learn(key)
            if lemma is not None:  # whitespace tokens are left out
                words.append(lemma)
        return words

    def _learn(self, key: int) -> str | None:
        """The lemma of a token not met yet (None for whitespace), remembered."""
        if len(self._lemmas) >= LEMMA_CACHE_MAX:
            self._lemmas = {}
        text = self._strings[key]
        lemma = None if text.isspace() else self._table.get(text, text)
        self._lemmas[key] = lemma
        return lemma


@lru_cache(maxsize=4)
def lookup_lemmas(pipeline: str | None) -> LookupLemmas | None:
    """The shortcut for the blank pipeline (lookup lemmas only); None for any other."""
    if pipeline is not None and pipeline != BLANK_PIPELINE:
        return None
    nlp = build_nlp(pipeline)
    lemmatizer: Any = nlp.get_pipe("lemmatizer") if nlp.pipe_names == ["lemmatizer"] else None
    if lemmatizer is None or lemmatizer.mode != "lookup" or lemmatizer.overwrite:
        return None
    return LookupLemmas(nlp)


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
        shortcut = lookup_lemmas(self.pipeline)
        if shortcut is None:
            return self.transform_with_spacy(texts)
        return [shortcut.normalise(mask_sensitive(text).lower()) for text in texts]

    def transform_with_spacy(self, texts: Iterable[str]) -> list[str]:
        """`transform` through spaCy's own pipeline, token by token (any pipeline)."""
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
