"""The plausible date window: dates and times a client may send at all (setting ``PLAUSIBLE_DATE_MIN`` and
``PLAUSIBLE_DATE_MAX``, default 2000-01-01 .. 2100-01-01, half-open).

A meter reading, event, consent, stake, availability or request window dated 0001 or 9999 is a typo or an
attack, never a fact: stored, it breaks every later computation that adds an hour or a day to it (Python's
``datetime`` ends at 9999-12-31, so ``+ timedelta`` raises ``OverflowError``). Checked at the API's date fields
(``flexplatform.api``) and in the services that store dates from files (meter imports) or paths (statements).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from django.conf import settings

MESSAGE = "Dates must be from {min} up to (not including) {max}."


def plausible_window() -> tuple[date, date]:
    return (
        date.fromisoformat(str(settings.PLAUSIBLE_DATE_MIN)),
        date.fromisoformat(str(settings.PLAUSIBLE_DATE_MAX)),
    )


def datetime_bounds() -> tuple[datetime, datetime]:
    """The window as aware UTC datetimes ``[low, high)``, for filtering stored rows."""
    low, high = plausible_window()
    return datetime.combine(low, time.min, tzinfo=UTC), datetime.combine(high, time.min, tzinfo=UTC)


def window_message() -> str:
    low, high = plausible_window()
    return MESSAGE.format(min=low.isoformat(), max=high.isoformat())


def is_plausible(value: date | datetime) -> bool:
    """True when ``value`` (a date, or a datetime: aware ones compared in UTC) lies in the window."""
    low, high = plausible_window()
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            try:
                value = value.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:  # 0001-01-01 or 9999-12-31 with an offset: outside any window
                return False
        return datetime.combine(low, time.min) <= value < datetime.combine(high, time.min)
    return low <= value < high


def year_is_plausible(year: int) -> bool:
    """True when the year overlaps the window (a statement or report year)."""
    low, high = plausible_window()
    return low.year <= year and (year < high.year or (year == high.year and high > date(high.year, 1, 1)))
