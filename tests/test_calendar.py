"""Working-day calendar: every expected value below was worked out by hand from the rules in
docs/calendar.md, so a change in behaviour shows up as a concrete wrong date."""

from __future__ import annotations

import json
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from engine import calendar as calendar_module
from engine.calendar import (
    DEFAULT_OVERRIDES_PATH,
    VN_TZ,
    CalendarOverride,
    OfficeHours,
    TimeUnit,
    WorkingCalendar,
    default_calendar,
    load_overrides,
)


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0):
    return datetime(year, month, day, hour, minute, second, tzinfo=VN_TZ)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return default_calendar()


# --------------------------------------------------------------------------- 2026 notices

DAYS_OFF_2026 = [
    # New Year: Thu 1/1 - Sun 4/1
    "2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04",
    # Tet: Sat 14/2 - Sun 22/2
    "2026-02-14", "2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18",
    "2026-02-19", "2026-02-20", "2026-02-21", "2026-02-22",
    # Hung Kings compensatory, Reunification Day, Labour Day
    "2026-04-27", "2026-04-30", "2026-05-01",
    # National Day: Sat 29/8 - Wed 2/9
    "2026-08-29", "2026-08-30", "2026-08-31", "2026-09-01", "2026-09-02",
    # Vietnam Culture Day
    "2026-11-24",
]  # fmt: skip

WORKING_DAYS_2026 = [
    "2025-12-31", "2026-01-05", "2026-01-09",
    "2026-01-10",  # make-up Saturday
    "2026-02-13", "2026-02-23",
    "2026-04-24", "2026-04-28", "2026-04-29", "2026-05-04",
    "2026-08-21",
    "2026-08-22",  # make-up Saturday
    "2026-08-28", "2026-09-03",
    "2026-11-23", "2026-11-25",
]  # fmt: skip


@pytest.mark.parametrize("day", DAYS_OFF_2026)
def test_announced_days_off_2026(cal: WorkingCalendar, day: str) -> None:
    assert cal.is_working_day(date.fromisoformat(day)) is False


@pytest.mark.parametrize("day", WORKING_DAYS_2026)
def test_working_days_around_the_2026_breaks(cal: WorkingCalendar, day: str) -> None:
    assert cal.is_working_day(date.fromisoformat(day)) is True


def test_2026_differs_from_a_plain_week_exactly_where_the_notices_say(
    cal: WorkingCalendar,
) -> None:
    weekdays_off: set[date] = set()
    weekends_worked: set[date] = set()
    day = date(2026, 1, 1)
    while day.year == 2026:
        plain = day.weekday() < 5
        if plain and not cal.is_working_day(day):
            weekdays_off.add(day)
        if not plain and cal.is_working_day(day):
            weekends_worked.add(day)
        day += timedelta(days=1)
    assert weekdays_off == {
        date(2026, 1, 1), date(2026, 1, 2),
        date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18),
        date(2026, 2, 19), date(2026, 2, 20),
        date(2026, 4, 27), date(2026, 4, 30), date(2026, 5, 1),
        date(2026, 8, 31), date(2026, 9, 1), date(2026, 9, 2),
        date(2026, 11, 24),
    }  # fmt: skip
    assert weekends_worked == {date(2026, 1, 10), date(2026, 8, 22)}


def test_package_alone_misses_the_new_year_swap_the_seed_fixes() -> None:
    bare = WorkingCalendar()
    assert bare.is_working_day(date(2026, 1, 2)) is True
    assert bare.is_working_day(date(2026, 1, 10)) is False
    assert bare.is_working_day(date(2026, 8, 22)) is False


def test_is_working_day_uses_the_local_day_of_an_aware_datetime(cal: WorkingCalendar) -> None:
    # 20:00 UTC on Fri 9/1 is 03:00 on the make-up Saturday 10/1 in Hanoi.
    assert cal.is_working_day(datetime(2026, 1, 9, 20, 0, tzinfo=UTC)) is True


# --------------------------------------------------------------------------- adding days


def test_normal_week(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(vn(2026, 3, 2, 7), 1) == vn(2026, 3, 2, 17)
    assert cal.add_working_days(vn(2026, 3, 2, 7), 5) == vn(2026, 3, 6, 17)
    assert cal.add_working_days(vn(2026, 3, 2, 10), 1) == vn(2026, 3, 3, 10)
    assert cal.add_working_days(vn(2026, 3, 6, 10), 1) == vn(2026, 3, 9, 10)


def test_landing_on_a_closing_time_stays_there(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(vn(2026, 3, 2, 7), 4.5) == vn(2026, 3, 2, 11, 30)
    assert cal.add_working_hours(vn(2026, 3, 2, 7), 8) == vn(2026, 3, 2, 17)


def test_make_up_saturdays_count(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(vn(2026, 1, 9, 10), 1) == vn(2026, 1, 10, 10)
    assert cal.add_working_days(vn(2026, 8, 21, 10), 1) == vn(2026, 8, 22, 10)
    assert cal.add_working_days(vn(2026, 8, 22, 10), 1) == vn(2026, 8, 24, 10)


def test_new_year_and_national_day_breaks(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(vn(2025, 12, 31, 10), 1) == vn(2026, 1, 5, 10)
    assert cal.add_working_days(vn(2026, 8, 28, 10), 1) == vn(2026, 9, 3, 10)


def test_appointment_across_tet_2026(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(vn(2026, 2, 13, 9), 3) == vn(2026, 2, 25, 9)
    # 15 working days from Mon 2/2: 4 in that week, 5 the next, Tet week skipped, 5, then Mon.
    assert cal.add_working_days(vn(2026, 2, 2, 8), 15) == vn(2026, 3, 2, 8)


def test_appointment_across_culture_day_2026(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(vn(2026, 11, 23, 9), 1) == vn(2026, 11, 25, 9)
    assert cal.add_working_days(vn(2026, 11, 23, 9), 2) == vn(2026, 11, 26, 9)


def test_cutoff_at_15_00_versus_14_59(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(vn(2026, 3, 3, 14, 59), 1, cutoff=True) == vn(2026, 3, 4, 14, 59)
    assert cal.add_working_days(vn(2026, 3, 3, 15, 0), 1, cutoff=True) == vn(2026, 3, 4, 17)
    # Without the cut-off the same reception simply runs on.
    assert cal.add_working_days(vn(2026, 3, 3, 15, 0), 1) == vn(2026, 3, 4, 15)


def test_cutoff_before_tet(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(vn(2026, 2, 13, 14, 59), 3, cutoff=True) == vn(2026, 2, 25, 14, 59)
    assert cal.add_working_days(vn(2026, 2, 13, 15, 0), 3, cutoff=True) == vn(2026, 2, 25, 17)


def test_cutoff_on_days_off_and_make_up_saturday(cal: WorkingCalendar) -> None:
    # Ordinary Saturday: counted from Monday's opening.
    assert cal.add_working_days(vn(2026, 3, 7, 9), 1, cutoff=True) == vn(2026, 3, 9, 17)
    # Make-up Saturday morning is a normal working morning.
    assert cal.add_working_days(vn(2026, 1, 10, 10), 1, cutoff=True) == vn(2026, 1, 12, 10)


def test_start_outside_office_hours(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(vn(2026, 3, 2, 6), 1) == vn(2026, 3, 2, 17)
    assert cal.add_working_days(vn(2026, 3, 2, 18), 1) == vn(2026, 3, 3, 17)
    assert cal.add_working_days(vn(2026, 3, 7, 10), 0.5) == vn(2026, 3, 9, 11)


def test_start_at_lunch(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(vn(2026, 3, 2, 12), 4) == vn(2026, 3, 3, 7, 30)
    assert cal.add_working_days(vn(2026, 3, 2, 12), 1) == vn(2026, 3, 3, 11, 30)


def test_half_day(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(vn(2026, 3, 2, 7), 0.5) == vn(2026, 3, 2, 11)
    assert cal.add_working_days(vn(2026, 3, 2, 10), 0.5) == vn(2026, 3, 2, 16)
    assert cal.add_working_days(vn(2026, 3, 2, 10), 0.5) == cal.add_working_hours(vn(2026, 3, 2, 10), 4)


def test_results_are_in_vietnam_time_whatever_the_input_zone(cal: WorkingCalendar) -> None:
    result = cal.add_working_days(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), 1)  # 09:00 in Hanoi
    assert result == vn(2026, 3, 3, 9)
    assert result.utcoffset() == timedelta(hours=7)
    assert result.isoformat() == "2026-03-03T09:00:00+07:00"


def test_lunar_tet_2027_from_the_package(cal: WorkingCalendar) -> None:
    for day in range(4, 11):
        assert cal.is_working_day(date(2027, 2, day)) is False, day
    assert cal.is_working_day(date(2027, 2, 3)) is True
    assert cal.is_working_day(date(2027, 2, 11)) is True
    # Fri 5/2/2027 is itself Lunar New Year's Eve, so counting starts Thu 11/2 07:00.
    assert cal.add_working_days(vn(2027, 2, 5, 9), 3) == vn(2027, 2, 15, 17)


# --------------------------------------------------------------------------- units


def test_add_dispatches_units(cal: WorkingCalendar) -> None:
    start = vn(2026, 3, 2, 10)
    assert cal.add(start, 1, "working_days") == vn(2026, 3, 3, 10)
    assert cal.add(start, 4, TimeUnit.WORKING_HOURS) == vn(2026, 3, 2, 16)
    assert cal.add(start, 10, TimeUnit.CALENDAR_DAYS) == vn(2026, 3, 12, 10)
    with pytest.raises(ValueError, match="unknown time unit"):
        cal.add(start, 1, "fortnights")


def test_calendar_days_landing_on_a_day_off_moves_to_next_closing(cal: WorkingCalendar) -> None:
    # Mon 2/3 + 5 days = Sat 7/3 -> Mon 9/3 at closing.
    assert cal.add(vn(2026, 3, 2, 10), 5, "calendar_days") == vn(2026, 3, 9, 17)
    # Mon 9/2 + 7 days = Mon 16/2 (Tet) -> Mon 23/2 at closing.
    assert cal.add(vn(2026, 2, 9, 10), 7, "calendar_days") == vn(2026, 2, 23, 17)


def test_same_day(cal: WorkingCalendar) -> None:
    assert cal.add(vn(2026, 3, 3, 10), 0, "same_day") == vn(2026, 3, 3, 17)
    assert cal.add(vn(2026, 3, 3, 14, 59), 0, "same_day") == vn(2026, 3, 3, 17)
    assert cal.add(vn(2026, 3, 3, 15, 0), 0, "same_day") == vn(2026, 3, 4, 17)
    assert cal.add(vn(2026, 3, 8, 10), 0, "same_day") == vn(2026, 3, 9, 17)  # Sunday
    assert cal.add(vn(2026, 2, 13, 16), 0, "same_day") == vn(2026, 2, 23, 17)  # eve of Tet


# --------------------------------------------------------------------------- subtracting


def test_subtract_mirrors_add(cal: WorkingCalendar) -> None:
    assert cal.subtract_working_days(vn(2026, 3, 2, 17), 1) == vn(2026, 3, 2, 7)
    assert cal.subtract_working_days(vn(2026, 2, 25, 9), 3) == vn(2026, 2, 13, 9)
    assert cal.subtract_working_days(vn(2026, 1, 12, 10), 1) == vn(2026, 1, 10, 10)
    assert cal.subtract_working_hours(vn(2026, 3, 9, 6), 1) == vn(2026, 3, 6, 16)


# --------------------------------------------------------------------------- measuring


def test_working_hours_between(cal: WorkingCalendar) -> None:
    assert cal.working_hours_between(vn(2026, 3, 2, 7), vn(2026, 3, 6, 17)) == 40.0
    assert cal.working_hours_between(vn(2026, 3, 2, 10), vn(2026, 3, 3, 10)) == 8.0
    assert cal.working_hours_between(vn(2026, 2, 13, 7), vn(2026, 2, 23, 7)) == 8.0
    assert cal.working_hours_between(vn(2026, 3, 3), vn(2026, 3, 2)) == 0.0


def test_working_hours_between_excludes_pauses(cal: WorkingCalendar) -> None:
    # Supplement wait from Mon 13:30 to Tue 07:00 removes Monday afternoon.
    pause = [(vn(2026, 3, 2, 13, 30), vn(2026, 3, 3, 7))]
    assert cal.working_hours_between(vn(2026, 3, 2, 10), vn(2026, 3, 3, 10), pause) == 4.5
    # Overlapping pauses are merged: 14:00-17:30 removes 3 hours, not 4.
    overlapping = [
        (vn(2026, 3, 2, 14), vn(2026, 3, 2, 16)),
        (vn(2026, 3, 2, 15), vn(2026, 3, 2, 17, 30)),
    ]
    assert cal.working_hours_between(vn(2026, 3, 2, 7), vn(2026, 3, 3, 7), overlapping) == 5.0
    # A pause still open runs until the end of the measurement.
    still_open = [(vn(2026, 3, 3, 9), None)]
    assert cal.working_hours_between(vn(2026, 3, 2, 7), vn(2026, 3, 4, 12), still_open) == 10.0


def test_inverted_pause_is_rejected(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="pause #1"):
        cal.working_hours_between(
            vn(2026, 3, 2, 7), vn(2026, 3, 3, 7), [(vn(2026, 3, 2, 15), vn(2026, 3, 2, 14))]
        )


# --------------------------------------------------------------------------- classify


def test_classify_boundaries(cal: WorkingCalendar) -> None:
    appointment = vn(2026, 2, 25, 9)
    assert cal.classify(appointment, appointment) == "on_time"
    assert cal.classify(appointment + timedelta(seconds=1), appointment) == "late"
    assert cal.classify(vn(2026, 2, 24, 16), appointment) == "early"
    assert cal.classify(vn(2026, 2, 25, 7, 30), appointment) == "on_time"
    # 20:00 UTC on Tue 24/2 is already Wed 03:00 in Hanoi: same local day, so not early.
    assert cal.classify(datetime(2026, 2, 24, 20, 0, tzinfo=UTC), appointment) == "on_time"


# --------------------------------------------------------------------------- bad input


def test_naive_datetimes_are_rejected(cal: WorkingCalendar) -> None:
    naive = datetime(2026, 3, 2, 9)
    with pytest.raises(ValueError, match="no time zone"):
        cal.add_working_days(naive, 1)
    with pytest.raises(ValueError, match="no time zone"):
        cal.subtract_working_days(naive, 1)
    with pytest.raises(ValueError, match="no time zone"):
        cal.working_hours_between(vn(2026, 3, 2), naive)
    with pytest.raises(ValueError, match="no time zone"):
        cal.classify(naive, vn(2026, 3, 2))


@pytest.mark.parametrize("amount", [-1, float("nan"), float("inf"), True, "1"])
def test_bad_amounts_are_rejected(cal: WorkingCalendar, amount: float) -> None:
    with pytest.raises(ValueError):
        cal.add_working_days(vn(2026, 3, 2, 9), amount)


def test_decimal_amounts_from_the_database_are_accepted(cal: WorkingCalendar) -> None:
    assert cal.add(vn(2026, 3, 2, 7), Decimal("0.5"), "working_days") == vn(2026, 3, 2, 11)


def test_implausible_amounts_stop_instead_of_hanging(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="walked more than"):
        cal.add_working_days(vn(2026, 3, 2, 9), 100_000)
    with pytest.raises(ValueError, match="walked more than"):
        cal.working_hours_between(vn(2026, 3, 2), vn(2066, 3, 2))
    everything_off = WorkingCalendar(
        CalendarOverride(date(2026, 1, 1) + timedelta(days=i), False) for i in range(8000)
    )
    with pytest.raises(ValueError, match="walked more than"):
        everything_off.add_working_days(vn(2026, 1, 1, 9), 1)


def test_fifteen_working_days_is_fast(cal: WorkingCalendar) -> None:
    began = clock.perf_counter()
    for hour in range(200):
        cal.add_working_days(vn(2026, 3, 2, 7) + timedelta(hours=hour), 15)
    assert clock.perf_counter() - began < 2.0


# --------------------------------------------------------------------------- office hours


def test_office_hours_parse() -> None:
    default = OfficeHours.parse("07:00-11:30,13:30-17:00")
    assert default == OfficeHours()
    assert default.hours_per_day == 8.0
    custom = OfficeHours.parse(" 08:00-12:00 , 13:00-17:00 ")
    assert custom.periods == ((time(8), time(12)), (time(13), time(17)))
    assert OfficeHours.parse("7:30-11:30").hours_per_day == 4.0


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("07:00-11:30,13:30", "13:30"),
        ("7h-11h", "7h"),
        ("07:00-11:30,25:00-26:00", "25:00"),
        ("12:00-08:00", "12:00-08:00"),
        ("07:00-12:00,11:00-17:00", "11:00-17:00"),
        ("", "no period"),
    ],
)
def test_office_hours_parse_names_the_bad_part(text: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        OfficeHours.parse(text)


def test_custom_office_hours() -> None:
    cal = WorkingCalendar(office_hours=OfficeHours.parse("08:00-12:00,13:00-17:00"))
    assert cal.add_working_days(vn(2026, 3, 2, 8), 0.5) == vn(2026, 3, 2, 12)
    assert cal.add_working_days(vn(2026, 3, 2, 7, 30), 1) == vn(2026, 3, 2, 17)
    assert cal.add_working_hours(vn(2026, 3, 2, 12, 30), 1) == vn(2026, 3, 2, 14)
    assert cal.add_working_days(vn(2026, 3, 3, 15, 0), 1, cutoff=True) == vn(2026, 3, 4, 17)
    assert cal.add(vn(2026, 3, 7, 9), 0, "same_day") == vn(2026, 3, 9, 17)

    short = WorkingCalendar(office_hours=OfficeHours.parse("07:30-11:30"))
    assert short.add_working_days(vn(2026, 3, 2, 7, 30), 2) == vn(2026, 3, 3, 11, 30)
    assert short.working_hours_between(vn(2026, 3, 2), vn(2026, 3, 3)) == 4.0


# --------------------------------------------------------------------------- overrides


def test_later_overrides_win() -> None:
    day = date(2026, 3, 4)
    cal = WorkingCalendar([CalendarOverride(day, False), CalendarOverride(day, True)])
    assert cal.is_working_day(day) is True
    closed = cal.with_overrides([CalendarOverride(day, False, "flood")])
    assert closed.is_working_day(day) is False
    assert cal.is_working_day(day) is True


def test_seed_file_is_valid_and_sourced() -> None:
    overrides = load_overrides(DEFAULT_OVERRIDES_PATH)
    assert {o.day for o in overrides if o.working} == {date(2026, 1, 10), date(2026, 8, 22)}
    assert all("Source:" in o.note for o in overrides)


def test_default_calendar_reads_the_seed_file(tmp_path, monkeypatch) -> None:
    seed = tmp_path / "overrides.json"
    seed.write_text(json.dumps({"overrides": [{"date": "2026-03-04", "working": False, "note": "test"}]}))
    monkeypatch.setattr(calendar_module, "DEFAULT_OVERRIDES_PATH", seed)
    cal = default_calendar()
    assert cal.is_working_day(date(2026, 3, 4)) is False
    # The shipped seed is no longer loaded, so the package's view of 10/1 is back.
    assert cal.is_working_day(date(2026, 1, 10)) is False


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"date": "2026-13-01", "working": True}], r"entry #1 \(2026-13-01\).*YYYY-MM-DD"),
        (
            [{"date": "2026-01-10", "working": True}, {"date": "2026-01-11", "working": "yes"}],
            r"entry #2 \(2026-01-11\).*true or false",
        ),
        (
            [{"date": "2026-01-10", "working": True}, {"date": "2026-01-10", "working": False}],
            r"entry #2 \(2026-01-10\).*already listed in entry #1",
        ),
        ([{"date": "2026-01-10", "workng": True}], r"entry #1.*unknown key"),
        (["2026-01-10"], r"entry #1.*expected an object"),
    ],
)
def test_load_overrides_names_the_bad_entry(tmp_path, entries, message) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"overrides": entries}))
    with pytest.raises(ValueError, match=message):
        load_overrides(path)


def test_load_overrides_rejects_a_file_without_a_list(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"days": []}')
    with pytest.raises(ValueError, match='"overrides" list'):
        load_overrides(path)
