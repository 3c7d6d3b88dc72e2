"""Durations as users write them: `90s`, `45m`, `5h30m`, `1h2m3s`."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError (saying what is expected) when it is not a duration."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration: write e.g. 90s, 45m or 5h30m")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"{text!r}: a duration must be more than zero")
    return float(total)
