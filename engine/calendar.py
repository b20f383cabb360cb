"""The working-day calendar: the single place where deadlines are computed.

Every appointment, step budget and on-time statistic depends on the same notion of a working
day, so nothing else in the project may count days on its own. This module is pure (no database,
no web framework): the engine builds a `WorkingCalendar` from the seed overrides shipped in
`engine/data/calendar_overrides.json` plus the admin-editable override table, and passes it
around.

Rules (see docs/calendar.md for the reasoning behind each boundary):

* A working day is Monday-Friday, minus Vietnamese public holidays known to the `holidays`
  package, and then the override table wins either way.
* One working day is `OfficeHours.hours_per_day` working hours, counted only inside the office
  periods of working days.
* All inputs must be timezone-aware; results are aware datetimes in the calendar's zone.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

DEFAULT_OVERRIDES_PATH = Path(__file__).parent / "data" / "calendar_overrides.json"

# A deadline is at most a few months away; 20 years of walking can only mean bad data (a typo of
# 10000 days, a corrupt pause). Failing loudly beats hanging a request or a timer worker.
MAX_DAYS_WALKED = 20 * 366

_ONE_DAY = timedelta(days=1)
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


class TimeUnit(StrEnum):
    """Units a procedure's time limit can be expressed in."""

    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"
    CALENDAR_DAYS = "calendar_days"
    SAME_DAY = "same_day"


def _parse_hhmm(text: str, what: str) -> time:
    match = _HHMM.match(text.strip())
    if not match:
        raise ValueError(f"office hours: {what} {text.strip()!r} is not HH:MM")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"office hours: {what} {text.strip()!r} is not a valid time of day")
    return time(hour, minute)


@dataclass(frozen=True)
class OfficeHours:
    """The periods of a working day during which the clock runs.

    Provinces set their own office hours, so this is data, not a constant. Periods are
    half-open [open, close): an instant exactly at a closing time is outside office hours.
    """

    periods: tuple[tuple[time, time], ...] = (
        (time(7, 0), time(11, 30)),
        (time(13, 30), time(17, 0)),
    )

    def __post_init__(self) -> None:
        # Reject unusable shapes once, here, so the walking loops can rely on sorted,
        # non-empty, non-overlapping periods and never spin on a zero-length day.
        if not self.periods:
            raise ValueError("office hours: at least one period is required")
        previous_close: time | None = None
        for opening, closing in self.periods:
            label = f"{opening:%H:%M}-{closing:%H:%M}"
            if opening.tzinfo is not None or closing.tzinfo is not None:
                raise ValueError(f"office hours: period {label} must use local wall-clock times")
            if opening >= closing:
                raise ValueError(f"office hours: period {label} closes before it opens")
            if previous_close is not None and opening < previous_close:
                raise ValueError(f"office hours: period {label} overlaps or precedes the previous period")
            previous_close = closing

    @property
    def hours_per_day(self) -> float:
        seconds = sum(
            (_on(date.min, closing) - _on(date.min, opening)).total_seconds()
            for opening, closing in self.periods
        )
        return seconds / 3600

    @property
    def opening(self) -> time:
        return self.periods[0][0]

    @property
    def closing(self) -> time:
        return self.periods[-1][1]

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """Parse the configuration form "07:00-11:30,13:30-17:00"."""
        parts = [part for part in text.split(",") if part.strip()]
        if not parts:
            raise ValueError(f"office hours: no period in {text!r}")
        periods: list[tuple[time, time]] = []
        for part in parts:
            bounds = part.split("-")
            if len(bounds) != 2:
                raise ValueError(f"office hours: period {part.strip()!r} is not HH:MM-HH:MM")
            opening = _parse_hhmm(bounds[0], f"opening of {part.strip()!r}:")
            closing = _parse_hhmm(bounds[1], f"closing of {part.strip()!r}:")
            if opening >= closing:
                raise ValueError(f"office hours: period {part.strip()!r} closes before it opens")
            periods.append((opening, closing))
        return cls(tuple(periods))

    def __str__(self) -> str:
        return ",".join(f"{o:%H:%M}-{c:%H:%M}" for o, c in self.periods)


@dataclass(frozen=True)
class CalendarOverride:
    """An announced exception: a swapped Saturday that is worked, or an extra day off."""

    day: date
    working: bool
    note: str = ""


def _on(day: date, at: time) -> datetime:
    return datetime.combine(day, at)


class _Walk:
    """Counts visited days so every loop over the calendar has the same hard stop."""

    def __init__(self) -> None:
        self.days = 0

    def step(self) -> None:
        self.days += 1
        if self.days > MAX_DAYS_WALKED:
            raise ValueError(
                f"calendar: walked more than {MAX_DAYS_WALKED} days; the amount or the dates are implausible"
            )


def _check_amount(amount: float, what: str) -> float:
    # Time limits may arrive as Decimal from a NUMERIC column; accept any real number but not
    # bool or str, which would only be there by mistake.
    if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal):
        raise ValueError(f"calendar: {what} must be a number, got {amount!r}")
    value = float(amount)
    if not math.isfinite(value):
        raise ValueError(f"calendar: {what} must be finite, got {amount!r}")
    if value < 0:
        raise ValueError(f"calendar: {what} must not be negative, got {amount!r}")
    return value


class WorkingCalendar:
    """Working days, office hours and deadline arithmetic for one jurisdiction."""

    def __init__(
        self,
        overrides: Iterable[CalendarOverride] = (),
        office_hours: OfficeHours = OfficeHours(),  # frozen, so one shared default is safe
        tz: ZoneInfo = VN_TZ,
        cutoff: time = time(15, 0),
    ) -> None:
        # Later entries replace earlier ones for the same day: the engine passes the seed first
        # and the database table after it, so an administrator's correction always wins.
        self._overrides: dict[date, CalendarOverride] = {}
        for override in overrides:
            self._overrides[override.day] = override
        self.office_hours = office_hours
        self.tz = tz
        self.cutoff = cutoff
        self._holidays_by_year: dict[int, frozenset[date]] = {}

    def with_overrides(self, overrides: Iterable[CalendarOverride]) -> WorkingCalendar:
        """A copy with `overrides` layered on top of this calendar's own."""
        return WorkingCalendar(
            [*self._overrides.values(), *overrides], self.office_hours, self.tz, self.cutoff
        )

    @property
    def overrides(self) -> tuple[CalendarOverride, ...]:
        return tuple(sorted(self._overrides.values(), key=lambda o: o.day))

    # ----------------------------------------------------------------------- working days

    def public_holidays(self, year: int) -> frozenset[date]:
        """Vietnamese public holidays of `year` as the `holidays` package knows them."""
        known = self._holidays_by_year.get(year)
        if known is None:
            # Building the package's holiday table computes lunar dates; once per year is enough.
            known = frozenset(holidays.country_holidays("VN", years=year).keys())
            self._holidays_by_year[year] = known
        return known

    def is_working_day(self, day: date) -> bool:
        if isinstance(day, datetime):
            # A datetime is a date subclass; without this its local day could be misread.
            day = self._local(day, "day").date()
        override = self._overrides.get(day)
        if override is not None:
            return override.working
        return day.weekday() < 5 and day not in self.public_holidays(day.year)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        walk = _Walk()
        day += _ONE_DAY
        while not self.is_working_day(day):
            walk.step()
            day += _ONE_DAY
        return day

    def previous_working_day(self, day: date) -> date:
        """The last working day strictly before `day`."""
        walk = _Walk()
        day -= _ONE_DAY
        while not self.is_working_day(day):
            walk.step()
            day -= _ONE_DAY
        return day

    # ----------------------------------------------------------------------- conversions

    def _local(self, instant: datetime, name: str) -> datetime:
        """`instant` as naive local wall-clock time.

        Office hours are wall-clock times, so all arithmetic happens on naive local datetimes
        and the zone is attached again at the end. Vietnam has no daylight saving time; for
        zones that do, transitions happen at night, outside any office period.
        """
        if not isinstance(instant, datetime):
            raise ValueError(f"calendar: {name} must be a datetime, got {instant!r}")
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(
                f"calendar: {name} {instant.isoformat()} has no time zone; "
                "pass an aware datetime (e.g. with tzinfo=VN_TZ)"
            )
        return instant.astimezone(self.tz).replace(tzinfo=None)

    def _aware(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.tz)

    def _after_cutoff(self, local: datetime) -> datetime:
        """Where counting starts when the reception cut-off applies.

        Paper received late in the afternoon (or on a day off) cannot be handed over the same
        day, so the clock starts at the next working day's opening.
        """
        if self.is_working_day(local.date()) and local.time() < self.cutoff:
            return local
        return _on(self.next_working_day(local.date()), self.office_hours.opening)

    # ----------------------------------------------------------------------- adding

    def add_working_hours(self, start: datetime, hours: float, *, cutoff: bool = False) -> datetime:
        """`start` plus `hours` of office time.

        A start outside office hours counts from the next opening; a result that falls exactly
        on a closing time stays there rather than jumping to the next opening, so Mon 07:00 +
        8 h is Mon 17:00.
        """
        hours = _check_amount(hours, "hours")
        current = self._local(start, "start")
        if cutoff:
            current = self._after_cutoff(current)
        remaining = timedelta(hours=hours)
        day = current.date()
        walk = _Walk()
        while True:
            if self.is_working_day(day):
                for opening, closing in self.office_hours.periods:
                    period_end = _on(day, closing)
                    if current >= period_end:
                        continue
                    begin = max(current, _on(day, opening))
                    available = period_end - begin
                    # `<=` is what keeps an exact landing on the closing time of this period.
                    if remaining <= available:
                        return self._aware(begin + remaining)
                    remaining -= available
                    current = period_end
            walk.step()
            day += _ONE_DAY
            current = _on(day, time.min)

    def add_working_days(self, start: datetime, days: float, *, cutoff: bool = False) -> datetime:
        days = _check_amount(days, "days")
        return self.add_working_hours(start, days * self.office_hours.hours_per_day, cutoff=cutoff)

    def add_calendar_days(self, start: datetime, days: float, *, cutoff: bool = False) -> datetime:
        """`start` plus `days` calendar days, kept at the same wall-clock time.

        A limit in calendar days cannot expire on a day the office is closed (the applicant
        could not collect the result), so a landing on a non-working day moves to the closing
        time of the next working day.
        """
        days = _check_amount(days, "days")
        current = self._local(start, "start")
        if cutoff:
            current = self._after_cutoff(current)
        landing = current + timedelta(days=days)
        if self.is_working_day(landing.date()):
            return self._aware(landing)
        return self._aware(_on(self.next_working_day(landing.date()), self.office_hours.closing))

    def same_day(self, start: datetime) -> datetime:
        """The closing time of the day a same-day procedure must be finished.

        Same-day service is defined by the reception cut-off: a dossier received at or after
        the cut-off, or on a day off, is due at the next working day's closing. The cut-off
        therefore always applies here, whatever the procedure's cut-off flag says.
        """
        current = self._after_cutoff(self._local(start, "start"))
        return self._aware(_on(current.date(), self.office_hours.closing))

    def add(self, start: datetime, amount: float, unit: TimeUnit | str, *, cutoff: bool = False) -> datetime:
        """The deadline `amount` `unit`s after `start` (the amount is ignored for same-day)."""
        try:
            unit = TimeUnit(unit)
        except ValueError:
            valid = ", ".join(u.value for u in TimeUnit)
            raise ValueError(f"calendar: unknown time unit {unit!r} (expected {valid})") from None
        adders: dict[TimeUnit, Callable[[], datetime]] = {
            TimeUnit.WORKING_DAYS: lambda: self.add_working_days(start, amount, cutoff=cutoff),
            TimeUnit.WORKING_HOURS: lambda: self.add_working_hours(start, amount, cutoff=cutoff),
            TimeUnit.CALENDAR_DAYS: lambda: self.add_calendar_days(start, amount, cutoff=cutoff),
            TimeUnit.SAME_DAY: lambda: self.same_day(start),
        }
        return adders[unit]()

    # ----------------------------------------------------------------------- subtracting

    def subtract_working_hours(self, instant: datetime, hours: float) -> datetime:
        """`instant` minus `hours` of office time; the mirror image of `add_working_hours`.

        An instant outside office hours counts back from the previous closing, and a result
        exactly on an opening time stays there (Mon 17:00 - 8 h is Mon 07:00).
        """
        hours = _check_amount(hours, "hours")
        current = self._local(instant, "instant")
        remaining = timedelta(hours=hours)
        day = current.date()
        walk = _Walk()
        while True:
            if self.is_working_day(day):
                for opening, closing in reversed(self.office_hours.periods):
                    period_start = _on(day, opening)
                    if current <= period_start:
                        continue
                    end = min(current, _on(day, closing))
                    available = end - period_start
                    if remaining <= available:
                        return self._aware(end - remaining)
                    remaining -= available
                    current = period_start
            walk.step()
            # Midnight after the previous day sits beyond every closing time of that day.
            current = _on(day, time.min)
            day -= _ONE_DAY

    def subtract_working_days(self, instant: datetime, days: float) -> datetime:
        """E.g. the last moment to issue an apology and extension: one working day before."""
        days = _check_amount(days, "days")
        return self.subtract_working_hours(instant, days * self.office_hours.hours_per_day)

    # ----------------------------------------------------------------------- measuring

    def _office_time(self, start: datetime, end: datetime) -> timedelta:
        """Office time inside [start, end), both naive local."""
        total = timedelta()
        day = start.date()
        walk = _Walk()
        while day <= end.date():
            if self.is_working_day(day):
                for opening, closing in self.office_hours.periods:
                    begin = max(start, _on(day, opening))
                    finish = min(end, _on(day, closing))
                    if finish > begin:
                        total += finish - begin
            walk.step()
            day += _ONE_DAY
        return total

    def working_hours_between(
        self,
        start: datetime,
        end: datetime,
        pauses: Iterable[tuple[datetime, datetime | None]] = (),
    ) -> float:
        """Working hours in [start, end) with the union of `pauses` taken out.

        Pauses model the supplement wait, during which the legal clock stops. A pause whose end
        is None is still running and is treated as open until `end`. Overlapping pauses are
        merged so the same hour is never removed twice.
        """
        begin = self._local(start, "start")
        finish = self._local(end, "end")
        if finish <= begin:
            return 0.0
        clipped: list[tuple[datetime, datetime]] = []
        for index, (pause_start, pause_end) in enumerate(pauses):
            label = f"pause #{index + 1}"
            p_start = self._local(pause_start, f"{label} start")
            p_end = finish if pause_end is None else self._local(pause_end, f"{label} end")
            if p_end < p_start:
                raise ValueError(f"calendar: {label} ends ({pause_end}) before it starts ({pause_start})")
            p_start, p_end = max(p_start, begin), min(p_end, finish)
            if p_end > p_start:
                clipped.append((p_start, p_end))
        clipped.sort()
        # Walk the gaps between merged pauses; each gap is counted once.
        total = timedelta()
        cursor = begin
        for p_start, p_end in clipped:
            if p_start > cursor:
                total += self._office_time(cursor, p_start)
            cursor = max(cursor, p_end)
        if finish > cursor:
            total += self._office_time(cursor, finish)
        return total.total_seconds() / 3600

    def classify(self, finished_at: datetime, appointment_at: datetime) -> str:
        """Classify a finished dossier as "early", "on_time" or "late".

        * late: `finished_at` is strictly after `appointment_at` (finishing exactly at the
          appointment is on time, as the rule is "end of processing <= appointment");
        * early: finished on a local calendar day strictly before the appointment's local
          calendar day (finishing earlier on the appointment day itself is merely on time, so a
          dossier cannot turn "early" by a few minutes);
        * on_time: everything else.
        """
        finished = self._local(finished_at, "finished_at")
        appointment = self._local(appointment_at, "appointment_at")
        if finished > appointment:
            return "late"
        if finished.date() < appointment.date():
            return "early"
        return "on_time"


# --------------------------------------------------------------------------- loading


def load_overrides(path: Path) -> list[CalendarOverride]:
    """Read an override file: {"overrides": [{"date", "working", "note"}, ...]}.

    The file is hand-edited from official notices, so every mistake is reported with the entry
    it is in, and a date listed twice is refused rather than silently resolved.
    """
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"calendar overrides {path}: not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("overrides"), list):
        raise ValueError(f'calendar overrides {path}: expected an object with an "overrides" list')
    result: list[CalendarOverride] = []
    seen: dict[date, int] = {}
    for number, entry in enumerate(document["overrides"], start=1):
        where = f"calendar overrides {path}: entry #{number}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected an object, got {entry!r}")
        where = f"{where} ({entry.get('date', 'no date')})"
        unknown = set(entry) - {"date", "working", "note"}
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        raw_day = entry.get("date")
        if not isinstance(raw_day, str):
            raise ValueError(f'{where}: "date" must be a YYYY-MM-DD string')
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            raise ValueError(f'{where}: "date" {raw_day!r} is not a YYYY-MM-DD date') from None
        working = entry.get("working")
        if not isinstance(working, bool):
            raise ValueError(f'{where}: "working" must be true or false, got {working!r}')
        note = entry.get("note", "")
        if not isinstance(note, str):
            raise ValueError(f'{where}: "note" must be a string')
        if day in seen:
            raise ValueError(f"{where}: date already listed in entry #{seen[day]}")
        seen[day] = number
        result.append(CalendarOverride(day=day, working=working, note=note))
    return result


def default_calendar() -> WorkingCalendar:
    """Vietnamese holidays plus the seeded official notices, with default office hours."""
    return WorkingCalendar(load_overrides(DEFAULT_OVERRIDES_PATH))
