"""A pretrained sentence encoder (sentence-transformers BERT) run in numpy, without torch.

Why: with 27 of 77 Banking77 intents withheld, static WordLlama vectors leave the withheld
intents too close to the kept ones for the novelty detector to send 80% of them to people;
a contextual encoder separates them better (BENCHMARKS.md, "Novelty"). Torch would add
gigabytes to the service for six small transformer layers, so the forward pass is written
here: token, position and type embeddings, then per layer self-attention and a GELU
feed-forward block, each followed by a residual LayerNorm (BERT, post-norm), then mean
pooling over real tokens and L2 normalisation, which is what sentence-transformers does
for models such as all-MiniLM-L6-v2 (the tests compare against its output).

The model directory is a sentence-transformers one: ``config.json`` (BERT sizes),
``model.safetensors``, ``tokenizer.json`` and optionally ``sentence_bert_config.json``
(``max_seq_length``) and ``1_Pooling/config.json`` (only mean pooling is supported).
Weights are read with Hugging Face ``safetensors`` and text is split with ``tokenizers``
(both Apache-2.0, both already installed as WordLlama's own dependencies): the reader
validates the file's header and offsets, which a hand-written one would have to repeat.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import erf

from classifier.errors import ClassifierError

BATCH_SIZE = 32  # texts per forward pass when embedding many (sorted by length first)


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as float32, keyed by name without ``bert.``."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise ClassifierError(f"{path} is not a readable safetensors file.") from exc
    return {_strip(name): np.asarray(value, dtype=np.float32) for name, value in tensors.items()}


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU that BERT's ``hidden_act: gelu`` means."""
    return np.asarray(0.5 * x * (1.0 + erf(x / math.sqrt(2.0))), dtype=np.float32)


@dataclass(frozen=True)
class _Layer:
    qkv: np.ndarray  # (hidden, 3 * hidden): query, key and value projections side by side
    qkv_bias: np.ndarray
    out: np.ndarray
    out_bias: np.ndarray
    norm1: tuple[np.ndarray, np.ndarray]
    up: np.ndarray
    up_bias: np.ndarray
    down: np.ndarray
    down_bias: np.ndarray
    norm2: tuple[np.ndarray, np.ndarray]


class SentenceEncoder:
    """Unit sentence vectors from a sentence-transformers BERT directory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        config = self._json("config.json")
        if config.get("model_type", "bert") != "bert":
            raise ClassifierError(
                f"{self.directory}: only BERT sentence encoders are supported "
                f"(model_type {config.get('model_type')!r})."
            )
        pooling = self._json("1_Pooling/config.json", optional=True)
        if pooling and not pooling.get("pooling_mode_mean_tokens", True):
            raise ClassifierError(f"{self.directory}: only mean pooling is supported.")
        settings = self._json("sentence_bert_config.json", optional=True)
        self.max_length = int(settings.get("max_seq_length", 256))
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        if config.get("hidden_act", "gelu") != "gelu":
            raise ClassifierError(f"{self.directory}: only the GELU activation is supported.")
        weights_path = self.directory / "model.safetensors"
        if not weights_path.is_file():
            raise ClassifierError(f"{self.directory} has no model.safetensors.")
        self.fingerprint = _fingerprint(weights_path)
        weights = read_weights(weights_path)
        try:
            self._load(weights, int(config["num_hidden_layers"]))
        except KeyError as exc:
            raise ClassifierError(f"{self.directory}: missing weight {exc.args[0]}.") from exc
        self.tokenizer = self._tokenizer()

    def _json(self, name: str, optional: bool = False) -> dict[str, Any]:
        path = self.directory / name
        if not path.is_file():
            if optional:
                return {}
            raise ClassifierError(f"{self.directory} is not a sentence encoder: no {name}.")
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded

    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        path = self.directory / "tokenizer.json"
        if not path.is_file():
            raise ClassifierError(f"{self.directory} has no tokenizer.json.")
        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=min(self.max_length, len(self.positions)))
        return tokenizer

    def _load(self, w: dict[str, np.ndarray], layers: int) -> None:
        self.word = w["embeddings.word_embeddings.weight"]
        self.dimension = int(self.word.shape[1])
        self.positions = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.embedding_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for number in range(layers):
            p = f"encoder.layer.{number}."
            a = p + "attention."
            self.layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(
                        np.concatenate(
                            [w[f"{a}self.{n}.weight"] for n in ("query", "key", "value")]
                        ).T
                    ),
                    qkv_bias=np.concatenate(
                        [w[f"{a}self.{n}.bias"] for n in ("query", "key", "value")]
                    ),
                    out=np.ascontiguousarray(w[a + "output.dense.weight"].T),
                    out_bias=w[a + "output.dense.bias"],
                    norm1=(w[a + "output.LayerNorm.weight"], w[a + "output.LayerNorm.bias"]),
                    up=np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    up_bias=w[p + "intermediate.dense.bias"],
                    down=np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    down_bias=w[p + "output.dense.bias"],
                    norm2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                )
            )

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Unit vectors (float32, one row per text) in the order given."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = [np.asarray(e.ids, dtype=np.intp) for e in encodings]
        order = np.argsort([len(i) for i in ids], kind="stable")  # little padding per batch
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._forward([ids[r] for r in rows])
        return out

    def _forward(self, ids: list[np.ndarray]) -> np.ndarray:
        """Mean-pooled, L2-normalised last hidden states of one padded batch."""
        batch, length = len(ids), max(len(i) for i in ids)
        tokens = np.zeros((batch, length), dtype=np.intp)
        mask = np.zeros((batch, length), dtype=np.float32)
        for row, sequence in enumerate(ids):
            tokens[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1.0
        real = np.flatnonzero(mask.reshape(-1))
        # Dense layers run on the real tokens only, packed into one (tokens, hidden) matrix:
        # one BLAS call each, and no work on padding (texts in a batch differ in length).
        x = (self.word[tokens] + self.positions[:length] + self.token_type).reshape(
            -1, self.dimension
        )[real]
        x = _layer_norm(x, *self.embedding_norm, self.eps)
        hidden, head = self.dimension, self.dimension // self.heads
        # Padding keys get a large negative score, so they get no attention weight.
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(head))
        padded = np.zeros((batch * length, 3 * hidden), dtype=np.float32)
        for layer in self.layers:
            padded[real] = x @ layer.qkv + layer.qkv_bias
            qkv = padded.reshape(batch, length, 3, self.heads, head)
            q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
            scores = (q * scale) @ k.transpose(0, 1, 3, 2) + blocked
            scores -= scores.max(axis=-1, keepdims=True)
            weights = np.exp(scores)
            weights /= weights.sum(axis=-1, keepdims=True)
            context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch * length, hidden)[real]
            x = _layer_norm(x + context @ layer.out + layer.out_bias, *layer.norm1, self.eps)
            up = _gelu(x @ layer.up + layer.up_bias)
            x = _layer_norm(x + up @ layer.down + layer.down_bias, *layer.norm2, self.eps)
        counts = mask.sum(axis=1)  # each text's real tokens are contiguous rows of x
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
        pooled = np.add.reduceat(x, starts, axis=0) / counts[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


def _strip(name: str) -> str:
    """Weight names without a leading ``bert.`` (BertModel exports vary)."""
    return name[len("bert.") :] if name.startswith("bert.") else name


def _fingerprint(path: Path) -> str:
    """The first 16 hex digits of the weights' SHA-256: which encoder a model was trained
    with, whatever directory it is installed in."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]
