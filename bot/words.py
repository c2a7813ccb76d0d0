"""Plain-English quantities shared by alert texts (written in jobs) and Slack messages.

No markup here: Slack's mrkdwn is `bot.blocks`' business.
"""

from __future__ import annotations


def duration(seconds: float) -> str:
    """A short human duration: 45 s, 2 min, 3 h 5 min, 2 d 4 h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def counted(count: int, noun: str) -> str:
    """`1 ticket`, `2 tickets`: a count with its noun in the right number (regular plurals)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def percent(probability: float) -> str:
    """0.5432 -> '54%'."""
    return f"{probability:.0%}"


def powered_audit(
    estimate: tuple[float, float, float],
    *,
    audits: int,
    automated: int,
    label_error: float | None,
) -> str:
    """`97.8% (96.9–98.6%) estimated from 83 audits and the model's confidence on 4012
    automated tickets, corrected for an estimated 1.6% of wrong audit answers`."""
    value, low, high = estimate
    words = (
        f"{value:.1%} ({low:.1%}–{high:.1%}) estimated from {counted(audits, 'audit')} and "
        f"the model's confidence on {counted(automated, 'automated ticket')}"
    )
    if label_error is not None and label_error > 0:
        words += f", corrected for an estimated {label_error:.1%} of wrong audit answers"
    return words
