"""WordLlama vectors from remembered pieces are WordLlama's own, to the bit."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from classifier.embeddings import WORDLLAMA_CONFIG, WORDLLAMA_DIM, load_wordllama
from classifier.wordllama_embed import WordLlamaEmbedder, _pieces_tokenise_alone
from tests.conftest import SAMPLE_HOLDOUT, SAMPLE_TRAIN

ODD = [
    "",
    " ",
    "   leading and trailing   ",
    "tabs\tand\nnew lines\r\n",
    "UPPER lower MiXeD",
    "naïve café résumé — “quotes” and ‘apostrophes’",
    "emoji 💳🏦 and a flag 🇬🇧",
    "combining e\u0301 and zero\u200bwidth",
    "中文 日本語 한국어 العربية עברית",
    "numbers 1234567890 and 3.14, 1e10",
    "a</s>b<unk> and <s> as text",  # the tokenizer's special tokens: its own path
    "<not special> < > <<>>",
    "word▁with▁the▁marker ▁▁ ▁",
    "x" * 300,
    "the the the the the the the the",
]


def texts() -> list[str]:
    rows: list[str] = []
    for path in (SAMPLE_TRAIN, SAMPLE_HOLDOUT):
        with path.open(newline="", encoding="utf-8") as handle:
            rows += [row["text"] for row in csv.DictReader(handle)]
    return rows + ODD


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder(load_wordllama(WORDLLAMA_CONFIG, WORDLLAMA_DIM))


def test_the_tokens_are_the_tokenizers(embedder: WordLlamaEmbedder) -> None:
    tokenizer = load_wordllama(WORDLLAMA_CONFIG, WORDLLAMA_DIM).tokenizer
    plain = [t for t in texts() if "<" not in t]
    for text in plain + plain:  # the second time from the memo
        expected = tokenizer.encode(text, add_special_tokens=False).ids
        assert embedder.token_ids(text) == expected, text


def test_a_full_memo_starts_again_and_still_gives_the_tokenizers_ids() -> None:
    inference = load_wordllama(WORDLLAMA_CONFIG, WORDLLAMA_DIM)
    small = WordLlamaEmbedder(inference, remember=3)
    for text in texts()[:50]:
        assert (
            small.token_ids(text) == inference.tokenizer.encode(text, add_special_tokens=False).ids
        )


@pytest.mark.parametrize("size", [1, 3, 64, 65, 200])
def test_the_vectors_are_wordllamas_to_the_bit(embedder: WordLlamaEmbedder, size: int) -> None:
    inference = load_wordllama(WORDLLAMA_CONFIG, WORDLLAMA_DIM)
    batch = [t for t in texts() if t][:size]
    with np.errstate(invalid="ignore"):
        expected = np.asarray(inference.embed(batch, norm=True), dtype=np.float32)
        got = embedder.embed(batch)
    assert got.dtype == np.float32
    assert got.tobytes() == expected.tobytes()


def test_odd_texts_and_special_tokens_match_too(embedder: WordLlamaEmbedder) -> None:
    inference = load_wordllama(WORDLLAMA_CONFIG, WORDLLAMA_DIM)
    for batch in (ODD[1:], [t for t in ODD if "<" not in t and t]):
        with np.errstate(invalid="ignore"):
            expected = np.asarray(inference.embed(batch, norm=True), dtype=np.float32)
            got = embedder.embed(batch)
        assert got.tobytes() == expected.tobytes()


def test_a_vocabulary_that_merges_across_a_space_is_not_cut_into_pieces() -> None:
    described = {
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
            ],
        },
        "pre_tokenizer": None,
        "model": {"type": "BPE", "dropout": None, "vocab": {"\u2581a": 0, "b": 1}},
    }
    assert _pieces_tokenise_alone(described)
    described["model"]["vocab"]["a\u2581b"] = 2  # type: ignore[index]
    assert not _pieces_tokenise_alone(described)
    described["model"]["vocab"].pop("a\u2581b")  # type: ignore[attr-defined]
    described["pre_tokenizer"] = {"type": "Whitespace"}
    assert not _pieces_tokenise_alone(described)
