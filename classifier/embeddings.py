"""Static WordLlama sentence embeddings as a scikit-learn transformer that skops can store."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from classifier.errors import ClassifierError
from classifier.masking import mask_sensitive

if TYPE_CHECKING:
    from sklearn.utils import Tags
    from wordllama.inference import WordLlamaInference


@lru_cache(maxsize=2)
def load_wordllama(config: str, dim: int) -> WordLlamaInference:
    """Load the weights shipped inside the wordllama wheel once; never touch the network."""
    import wordllama

    try:
        return wordllama.WordLlama.load(
            config=config,
            dim=dim,
            cache_dir=os.path.dirname(wordllama.__file__),
            disable_download=True,
        )
    except (FileNotFoundError, ValueError) as exc:
        raise ClassifierError(
            f"WordLlama weights {config!r} (dim {dim}) are not available offline."
        ) from exc


class WordLlamaEmbedder(TransformerMixin, BaseEstimator):
    """Add dense word-embedding features, which generalise to words unseen in training."""

    def __init__(self, config: str = "l2_supercat", dim: int = 256, weight: float = 1.0) -> None:
        self.config = config
        self.dim = dim
        self.weight = weight

    def fit(self, texts: Iterable[str], y: object = None) -> WordLlamaEmbedder:
        """Check the weights load; the embedding itself is pre-trained and learns nothing."""
        load_wordllama(self.config, self.dim)
        return self

    def transform(self, texts: Iterable[str]) -> np.ndarray:
        """Embed masked texts as unit vectors scaled by ``weight`` relative to TF-IDF rows."""
        model = load_wordllama(self.config, self.dim)
        vectors = model.embed([mask_sensitive(text) for text in texts], norm=True)
        return np.asarray(vectors, dtype=np.float64) * self.weight

    def __sklearn_tags__(self) -> Tags:
        """Declare the transformer stateless so sklearn does not demand fitted attributes."""
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
