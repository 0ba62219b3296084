"""A cron expression in words, for people reading the schedules page: "every 10 seconds",
"every day at 03:00", "on Monday to Friday at 09:30". Only the common shapes are worded;
for any other, `describe` returns "" and the page shows the expression itself (with its
next firings, which say exactly when). Fields as app.schedules takes them: 5, or 6 with
seconds last."""

from __future__ import annotations

import re

_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_DAY_NAMES = {d[:3].lower(): i for i, d in enumerate(_DAYS[:7])}
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_MONTH_NAMES = {m[:3].lower(): i + 1 for i, m in enumerate(_MONTHS)}
_NUM = re.compile(r"^\d{1,2}$")
_STEP = re.compile(r"^\*/(\d{1,2})$")


def _n(text: str, names: dict[str, int] | None = None) -> int | None:
    if _NUM.match(text):
        return int(text)
    if names is not None and text.lower() in names:
        return names[text.lower()]
    return None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _days(field: str) -> str | None:
    """Weekdays: "on Monday to Friday", "on Saturday and Sunday"; None when unusual."""
    words = []
    for part in field.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            x, y = _n(a, _DAY_NAMES), _n(b, _DAY_NAMES)
            if x is None or y is None or not (0 <= x <= 7 and 0 <= y <= 7):
                return None
            words.append(f"{_DAYS[x]} to {_DAYS[y]}")
        else:
            x = _n(part, _DAY_NAMES)
            if x is None or not 0 <= x <= 7:
                return None
            words.append(_DAYS[x])
    return "on " + _list(words)


def _dates(day: str, month: str) -> str | None:
    """Day of month and month: "on the 1st of each month", "on 25 December"."""
    d = None if day == "*" else _n(day)
    m = None if month == "*" else _n(month, _MONTH_NAMES)
    if (day != "*" and d is None) or (month != "*" and m is None):
        return None
    if d is not None and not 1 <= d <= 31 or m is not None and not 1 <= m <= 12:
        return None
    if d is None and m is None:
        return ""
    if m is None:
        return f"on the {_ordinal(d)} of each month"
    if d is None:
        return f"every day of {_MONTHS[m - 1]}"
    return f"on {d} {_MONTHS[m - 1]}"


def _when(minute: str, hour: str) -> str | None:
    """The time of day part: "every minute", "every 15 minutes", "at 03:00", "every
    hour at minute 5"."""
    if minute == "*" and hour == "*":
        return "every minute"
    step = _STEP.match(minute)
    if step and hour == "*":
        return f"every {int(step.group(1))} minutes"
    m = _n(minute)
    if m is None or not 0 <= m <= 59:
        return None
    if hour == "*":
        return "every hour" + (f" at minute {m}" if m else "")
    step = _STEP.match(hour)
    if step:
        return f"every {int(step.group(1))} hours at minute {m}"
    hours = []
    for part in hour.split(","):
        h = _n(part)
        if h is None or not 0 <= h <= 23:
            return None
        hours.append(f"{h:02d}:{m:02d}")
    return "at " + _list(hours)


def _seconds(field: str) -> str | None:
    if field == "*":
        return "every second"
    step = _STEP.match(field)
    if step:
        return f"every {int(step.group(1))} seconds"
    s = _n(field)
    if s is not None and 0 <= s <= 59:
        return "" if s == 0 else f"at second {s}"
    return None


def describe(cron: str) -> str:
    """The expression in words, or "" when it is not one of the common shapes."""
    fields = str(cron or "").split()
    if len(fields) not in (5, 6):
        return ""
    minute, hour, day, month, weekday = fields[:5]
    seconds = fields[5] if len(fields) == 6 else "0"
    sec = _seconds(seconds)
    if sec is None:
        return ""
    dates = _dates(day, month)
    days = "" if weekday == "*" else _days(weekday)
    if dates is None or days is None or (dates and days):
        return ""
    if sec.startswith("every"):
        if (minute, hour) != ("*", "*"):
            return ""  # seconds within chosen minutes: rare enough to show as written
        when = ""
    else:
        when = _when(minute, hour)
        if when is None:
            return ""
    period = dates or days
    if not period and when.startswith("at"):
        period = "every day"
    text = " ".join(p for p in (sec, when, period) if p) or "every minute"
    return text[0].upper() + text[1:]
