"""Masking of personal data in ticket texts before they become features or log lines."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Links written without a scheme: dotted names ending in a common top-level domain
# ("bank.example.com"), or any dotted name followed by a path ("pay.example/reset"). Short
# country domains that are also English words ("it", "me", "in", "us"...) are left out, so
# a missing space after a full stop ("it.It failed") is not taken for a link.
_TOP_DOMAINS = "com|net|org|info|biz|io|co|uk|de|fr|eu|nl|ca|au|app|dev|gov|edu|ai"
_HOST = re.compile(
    r"\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    rf"(?:(?:{_TOP_DOMAINS})\b(?:/\S*)?|[a-z]{{2,24}}/\S*)",
    re.IGNORECASE,
)
# Six or more digits, grouped by up to two spaces, a dash or a dot: card, order, phone and
# account numbers however they are typed ("4111 1111 1111 1111", "4111.1111.1111.1111").
_LONG_NUMBER = re.compile(r"\d(?:(?:[ \t]{1,2}|[ \t]?[-.][ \t]?)?\d){5,}")
_LONG_NUMBER_NO_DOT = re.compile(r"\d(?:(?:[ \t]{1,2}|[ \t]?-[ \t]?)?\d){5,}")


# Something every pattern above needs: without it there is nothing to mask, and one search
# replaces four substitutions (most tickets; masking is on every prediction's path twice).
_MAYBE_SENSITIVE = re.compile(r"[@\d]|\.\w|://|www", re.IGNORECASE)


def _mask_number(match: re.Match[str]) -> str:
    """A single dot is a decimal point ("1234.56", "1 500.00"), not a digit group separator."""
    found = match.group()
    if found.count(".") != 1:
        return " NUMBER "
    return ".".join(_LONG_NUMBER_NO_DOT.sub(" NUMBER ", part) for part in found.split("."))


def mask_sensitive(text: str) -> str:
    """Replace e-mails, URLs and long digit runs so they never become features or log lines."""
    return substitute_all(text) if _MAYBE_SENSITIVE.search(text) else text


def substitute_all(text: str) -> str:
    """Every substitution, without the shortcut (tests check the shortcut changes nothing)."""
    text = _EMAIL.sub(" EMAIL ", text)
    text = _URL.sub(" URL ", text)
    text = _HOST.sub(" URL ", text)
    return _LONG_NUMBER.sub(_mask_number, text)
