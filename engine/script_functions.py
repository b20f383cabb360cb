"""The functions BPMN scripts and expressions may call (see docs/bpmn-dialect.md).

They are bound to one case step through a CaseScope: reading the clock, the calendar and the
case's appointment, and recording effects (a new appointment) that the runtime applies to the
case row in the same transaction. Values crossing into task data are ISO 8601 strings so the
stored state stays plain JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .calendar import WorkingCalendar
from .clock import Clock
from .errors import InvalidAction


@dataclass(frozen=True)
class Effect:
    kind: str  # appointment_scheduled | appointment_extended
    data: dict[str, Any]


@dataclass
class CaseScope:
    clock: Clock
    calendar: WorkingCalendar
    appointment_at: datetime | None = None
    time_limit: float | None = None
    time_unit: str | None = None
    cutoff: bool = False
    extension_count: int = 0
    max_extensions: int = 1
    effects: list[Effect] = field(default_factory=list)

    def local(self, instant: datetime) -> str:
        return instant.astimezone(self.calendar.tz).isoformat()


def parse_instant(value: Any, name: str = "value") -> datetime:
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value)
        except ValueError as err:
            raise ValueError(f"{name} is not an ISO 8601 date-time: {value!r}") from err
    else:
        raise ValueError(f"{name} must be an ISO 8601 date-time string, got {type(value).__name__}")
    if instant.tzinfo is None:
        raise ValueError(f"{name} has no UTC offset: {value!r}")
    return instant


def build_functions(scope: CaseScope) -> dict[str, Callable[..., Any]]:
    cal = scope.calendar

    def now() -> str:
        return scope.local(scope.clock.now())

    def add_working_days(start: Any, n: float) -> str:
        return scope.local(cal.add_working_days(parse_instant(start, "start"), float(n)))

    def add_working_hours(start: Any, hours: float) -> str:
        return scope.local(cal.add_working_hours(parse_instant(start, "start"), float(hours)))

    def working_days_before(instant: Any, n: float) -> str:
        return scope.local(cal.subtract_working_days(parse_instant(instant, "instant"), float(n)))

    def appointment() -> str | None:
        return scope.local(scope.appointment_at) if scope.appointment_at else None

    def schedule_appointment() -> str:
        if scope.time_limit is None or scope.time_unit is None:
            raise InvalidAction("this case has no procedure time limit to schedule an appointment from")
        received = scope.clock.now()
        at = cal.add(received, scope.time_limit, scope.time_unit, cutoff=scope.cutoff)
        scope.appointment_at = at
        scope.effects.append(Effect("appointment_scheduled", {"appointment_at": at, "received_at": received}))
        return scope.local(at)

    def reschedule(new_at: Any, reason: str) -> str:
        if scope.extension_count >= scope.max_extensions:
            raise InvalidAction("a dossier may be re-appointed only once")
        at = parse_instant(new_at, "new_appointment_at")
        if scope.appointment_at is not None and at <= scope.appointment_at:
            raise InvalidAction("the new appointment must be later than the current one")
        scope.extension_count += 1
        previous = scope.appointment_at
        scope.appointment_at = at
        scope.effects.append(
            Effect(
                "appointment_extended", {"appointment_at": at, "previous": previous, "reason": str(reason)}
            )
        )
        return scope.local(at)

    return {
        "now": now,
        "add_working_days": add_working_days,
        "add_working_hours": add_working_hours,
        "working_days_before": working_days_before,
        "appointment": appointment,
        "schedule_appointment": schedule_appointment,
        "reschedule": reschedule,
    }
