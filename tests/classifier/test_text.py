from __future__ import annotations

import csv
from pathlib import Path

import pytest

from classifier.errors import ClassifierError
from classifier.text import SpacyNormalizer, build_nlp, lookup_lemmas

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "sample" / "banking77_sample_train.csv"


def test_blank_pipeline_lemmatizes_offline() -> None:
    nlp = build_nlp()
    lemmas = [token.lemma_ for token in nlp("cards charged")]
    assert lemmas == ["card", "charge"]


def test_build_nlp_is_cached() -> None:
    assert build_nlp(None) is build_nlp(None)
    assert build_nlp("blank") is build_nlp("blank")


def test_missing_pipeline_raises_classifier_error() -> None:
    with pytest.raises(ClassifierError, match="not installed"):
        build_nlp("xx_no_such_pipeline_sm")


def test_normalizer_masks_lowercases_and_lemmatizes() -> None:
    (out,) = SpacyNormalizer().transform(["My Cards were charged, mail me at a@b.com"])
    assert out.split() == ["my", "card", "be", "charge", ",", "mail", "me", "at", "email"]


def test_normalizer_uses_pipe_and_matches_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["I was charged twice", "Where is my new card?", "top-up failed again"]
    nlp = build_nlp()
    calls: list[int] = []
    original_pipe = type(nlp).pipe

    def counting_pipe(self, stream, **kwargs):  # noqa: ANN001, ANN202 - spaCy's signature
        items = list(stream)
        calls.append(len(items))
        return original_pipe(self, items, **kwargs)

    normalizer = SpacyNormalizer(batch_size=2)
    one_by_one = [normalizer.transform_with_spacy([text])[0] for text in texts]
    monkeypatch.setattr(type(nlp), "pipe", counting_pipe)
    batched = normalizer.transform_with_spacy(texts)
    assert batched == one_by_one
    assert calls == [3]


SHORTCUT_TEXTS = [
    "I was charged twice",
    "Where is my new card?",
    "top-up failed again",
    "  double  space\n\nnew line\ttab  ",
    "Café naïve ÉCOLE",
    "emoji 😀 here",
    "\u00a0no-break\u2003em space",
    "",
    " ",
    "mail me a@b.com or pay 4111 1111 1111 1111 at www.bank.example.com",
    "don't can't won't I'm we're",
    "U.S.A. e.g. etc. 1.5% 3rd",
    "Why are my cards' payments DECLINED?!",
    # punctuation and special cases on both sides of single spaces: each stretch between
    # spaces is tokenised alone, and must give what the whole text gives
    "(hello) world , . ; 'tis don 't 's rock'n'roll",
    ":) :-) <3 :( ... -- - — \u2014 a.m. p.m. e.g .",
    "https://bank.example.com/a?b=1 next www.x.io, then 10am",
    "\u00a0lead nbsp and a\u00a0b and tab\tinside one\nstretch",
]


def test_the_blank_pipeline_shortcut_gives_spacys_own_lemmas() -> None:
    """The blank pipeline is normalised without spaCy tokens, to the very same strings."""
    normalizer = SpacyNormalizer()
    with SAMPLE.open(newline="") as handle:
        samples = [row["text"] for row in csv.DictReader(handle)]
    texts = SHORTCUT_TEXTS + samples
    assert lookup_lemmas(None) is not None
    assert normalizer.transform(texts) == normalizer.transform_with_spacy(texts)
    assert normalizer.transform(texts) == normalizer.transform(texts)  # from its cache now


def test_normalizer_holds_no_nlp_state() -> None:
    normalizer = SpacyNormalizer().fit(["a text"])
    assert set(vars(normalizer)) == {"pipeline", "batch_size"}
