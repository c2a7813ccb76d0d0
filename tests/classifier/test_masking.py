from __future__ import annotations

import csv
import random

import pytest

from classifier.masking import mask_sensitive, substitute_all
from tests.conftest import SAMPLE_TRAIN as SAMPLE


@pytest.mark.parametrize(
    ("text", "secret", "token"),
    [
        ("write to jane.doe+bank@example.co.uk please", "jane.doe+bank@example.co.uk", "EMAIL"),
        ("see https://bank.example.com/help?id=3 now", "https://bank.example.com", "URL"),
        ("see www.example.com/faq now", "www.example.com", "URL"),
        ("my card 4111 1111 1111 1111 was declined", "4111", "NUMBER"),
        ("order 123-456-7890 never arrived", "123-456", "NUMBER"),
        ("reference 12345678", "12345678", "NUMBER"),
        ("my card 4111.1111.1111.1111 was declined", "4111", "NUMBER"),
        ("my card 4111  1111  1111  1111 was declined", "4111", "NUMBER"),
        ("card 4111 - 1111 - 1111 - 1111 please", "1111", "NUMBER"),
        ("reset it at bank.example.com/reset today", "bank.example.com", "URL"),
        ("log in on Bank.Example.COM and retry", "Example", "URL"),
        ("my profile is pay.example/jane-doe ok", "jane-doe", "URL"),
        ("write to the team at example.co.uk soon", "example.co.uk", "URL"),
    ],
)
def test_sensitive_parts_are_masked(text: str, secret: str, token: str) -> None:
    masked = mask_sensitive(text)
    assert secret not in masked
    assert f" {token} " in masked


@pytest.mark.parametrize(
    "text",
    [
        "waited 2 weeks",
        "fee of 12345 cents",
        "pin 1234 is wrong",
        "I was charged 1234.56 twice",
        "a transfer of 1 500.00 EUR",
        "the rate went from 3.5% to 4.25%",
        "app version 1.2.3 at 10.30",
        "paid on 12/03/2024",
    ],
)
def test_short_numbers_and_decimals_are_kept(text: str) -> None:
    assert mask_sensitive(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "e.g. my card, i.e. the new one",
        "the U.S. branch at 9 a.m.",
        "node.js and Mr.Smith",
        "it arrived.It was broken",
        "please help.me now",
    ],
)
def test_abbreviations_and_missing_spaces_are_not_links(text: str) -> None:
    assert mask_sensitive(text) == text


def test_a_decimal_point_is_not_a_digit_group() -> None:
    assert mask_sensitive("refund 1234567.89 now") == "refund  NUMBER .89 now"
    assert mask_sensitive("ref 12.345.678 please") == "ref  NUMBER  please"


@pytest.mark.parametrize(
    "card", ["4111 1111 1111 1111", "4111.1111.1111.1111", "4111  1111  1111  1111"]
)
def test_card_number_leaves_no_digits(card: str) -> None:
    masked = mask_sensitive(f"card {card}, expires soon")
    assert not any(char.isdigit() for char in masked)


def test_the_shortcut_for_clean_text_changes_no_result() -> None:
    rng = random.Random(5)
    alphabet = "ab. @:/-wW0123456789\t"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(5000)]
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        texts += [row["text"] for row in csv.DictReader(handle)]
    assert [mask_sensitive(t) for t in texts] == [substitute_all(t) for t in texts]
