from __future__ import annotations

import pytest

from classifier.masking import mask_sensitive


@pytest.mark.parametrize(
    ("text", "secret", "token"),
    [
        ("write to jane.doe+bank@example.co.uk please", "jane.doe+bank@example.co.uk", "EMAIL"),
        ("see https://bank.example.com/help?id=3 now", "https://bank.example.com", "URL"),
        ("see www.example.com/faq now", "www.example.com", "URL"),
        ("my card 4111 1111 1111 1111 was declined", "4111", "NUMBER"),
        ("order 123-456-7890 never arrived", "123-456", "NUMBER"),
        ("reference 12345678", "12345678", "NUMBER"),
    ],
)
def test_sensitive_parts_are_masked(text: str, secret: str, token: str) -> None:
    masked = mask_sensitive(text)
    assert secret not in masked
    assert f" {token} " in masked


@pytest.mark.parametrize("text", ["waited 2 weeks", "fee of 12345 cents", "pin 1234 is wrong"])
def test_short_numbers_are_kept(text: str) -> None:
    assert mask_sensitive(text) == text


def test_card_number_leaves_no_digits() -> None:
    masked = mask_sensitive("card 4111 1111 1111 1111, expires soon")
    assert not any(char.isdigit() for char in masked)
