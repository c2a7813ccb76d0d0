"""Static WordLlama sentence embeddings, loaded from the weights inside the wheel."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from classifier.errors import ClassifierError
from classifier.masking import mask_sensitive

if TYPE_CHECKING:
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


def embed(texts: Iterable[str], config: str = "l2_supercat", dim: int = 256) -> np.ndarray:
    """Unit WordLlama vectors of masked texts: dense features that generalise to words
    unseen in training, and the space in which novelty and new topics are measured."""
    masked = [mask_sensitive(text) for text in texts]
    if not masked:
        return np.zeros((0, dim))
    vectors = load_wordllama(config, dim).embed(masked, norm=True)
    return np.asarray(vectors, dtype=np.float64).reshape(len(masked), dim)
