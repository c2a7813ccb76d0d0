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
