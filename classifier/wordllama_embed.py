"""WordLlama's sentence vectors with its tokenizer's work remembered, word by word.

`WordLlamaInference.embed` runs the Hugging Face tokenizer over every text, and for the
short texts of an intake batch that call is half the embedding's cost (1.1 of 2.2 ms for
100 Banking77 queries, timed alone). Its
tokenizer is a byte-pair encoder with no pre-tokenizer: it normalises a text by putting
"▁" in front and in place of each space, then merges symbols over the whole string. No
token of its vocabulary holds a "▁" after anything but another "▁", so no merge ever
crosses from a letter to the "▁" after it: the text's tokens are those of its pieces cut
at those points ("▁hello", "▁▁▁world"), one piece at a time. Pieces repeat across tickets
far more than texts do, so their token ids are remembered.

`embed` then takes WordLlama's own steps (rows of the embedding table, its average pooling,
its normalisation) on the same ids, so the vectors are WordLlama's to the bit (tests compare
them on Banking77 and odd texts). A vocabulary without that property, or a text holding one
of the tokenizer's special tokens (which it cuts out before normalising), goes through
WordLlama's own `embed`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from wordllama.inference import WordLlamaInference

SPACE = "\u2581"  # the tokenizer's "▁"
PIECES = re.compile(f"{SPACE}*[^{SPACE}]+|{SPACE}+")
CHUNK = 64  # texts per table look-up, as WordLlama's own `embed` batches them
PIECE_CACHE_MAX = 50_000  # pieces remembered before the memo starts again (about 13 MB)


class WordLlamaEmbedder:
    """Unit WordLlama vectors of (masked) texts, tokenised piece by piece from a memo."""

    def __init__(self, inference: WordLlamaInference, *, remember: int = PIECE_CACHE_MAX) -> None:
        self._inference, self._remember = inference, remember
        described = json.loads(inference.tokenizer.to_str())
        self._specials = [token["content"] for token in described.get("added_tokens", [])]
        self._by_pieces = _pieces_tokenise_alone(described)
        self._model = inference.tokenizer.model
        self._ids: dict[str, list[int]] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        """What `inference.embed(texts, norm=True)` gives, as float32 rows."""
        if not self._by_pieces or self._inference.binary or any(map(self._special_in, texts)):
            return np.asarray(self._inference.embed(texts, norm=True), dtype=np.float32)
        table = self._inference.embedding
        out = np.empty((len(texts), table.shape[1]), dtype=np.float32)
        for start in range(0, len(texts), CHUNK):
            ids = [self.token_ids(text) for text in texts[start : start + CHUNK]]
            width = max((len(row) for row in ids), default=0)
            input_ids = np.zeros((len(ids), width), dtype=np.int32)
            mask = np.zeros((len(ids), width), dtype=np.float32)
            for row, token_ids in enumerate(ids):
                input_ids[row, : len(token_ids)] = token_ids
                mask[row, : len(token_ids)] = 1.0
            np.clip(input_ids, 0, table.shape[0] - 1, out=input_ids)
            pooled = self._inference.avg_pool(table[input_ids], mask)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            out[start : start + len(ids)] = pooled
        return out

    def token_ids(self, text: str) -> list[int]:
        """The tokenizer's ids for `text` (no special tokens added), piece by piece."""
        if not text:
            return []
        ids: list[int] = []
        memo = self._ids
        for piece in PIECES.findall(SPACE + text.replace(" ", SPACE)):
            known = memo.get(piece)
            if known is None:
                if len(memo) >= self._remember:
                    memo.clear()
                known = memo[piece] = [token.id for token in self._model.tokenize(piece)]
            ids += known
        return ids

    def _special_in(self, text: str) -> bool:
        return "<" in text and any(special in text for special in self._specials)


def _pieces_tokenise_alone(described: dict[str, object]) -> bool:
    """Whether this tokenizer is the kind the piece rule holds for: normalised by putting
    "▁" first and for each space and nothing else, no pre-tokenizer, a BPE model without
    dropout, and no vocabulary entry with a "▁" after anything but "▁"."""
    normalizer = described.get("normalizer")
    steps = normalizer.get("normalizers", []) if isinstance(normalizer, dict) else []
    expected = [
        {"type": "Prepend", "prepend": SPACE},
        {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
    ]
    model = described.get("model")
    if steps != expected or described.get("pre_tokenizer") is not None:
        return False
    if not isinstance(model, dict) or model.get("type") != "BPE" or model.get("dropout"):
        return False
    inside = re.compile(f"[^{SPACE}]{SPACE}")
    vocabulary = model.get("vocab")
    return isinstance(vocabulary, dict) and not any(inside.search(t) for t in vocabulary)
