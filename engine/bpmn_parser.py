"""SpiffWorkflow parser adapted to the engine: timers read the engine's clock (SpiffWorkflow
itself compares against the system clock, which tests and the demo could not move)."""

from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, IntermediateCatchEvent, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffStartEventParser,
)
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser


def _now(my_task) -> datetime:  # type: ignore[no-untyped-def]
    return my_task.workflow.script_engine.clock.now()


class ClockTimeDate(TimeDateEventDefinition):
    """A timeDate timer whose "now" is the engine clock."""

    def has_fired(self, my_task) -> bool:  # type: ignore[no-untyped-def]
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            if isinstance(event_value, datetime):
                event_value = event_value.isoformat()
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.parse_time_or_duration(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockDuration(DurationTimerEventDefinition):
    """A timeDuration timer (ISO 8601 duration) counted from the engine clock."""

    def has_fired(self, my_task) -> bool:  # type: ignore[no-untyped-def]
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            parsed = TimerEventDefinition.parse_iso_duration(expression)
            start = _now(my_task)
            event_value = (start + TimerEventDefinition.get_timedelta_from_start(parsed, start)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class _ClockTimerMixin:
    def parse_timer_event(self, event):  # type: ignore[no-untyped-def]
        definition = super().parse_timer_event(event)  # type: ignore[misc]
        replacement = {TimeDateEventDefinition: ClockTimeDate, DurationTimerEventDefinition: ClockDuration}
        cls = replacement.get(type(definition))
        if cls is None:
            return definition
        return cls(definition.name, definition.expression, description=definition.description)


class _StartParser(_ClockTimerMixin, SpiffStartEventParser):
    pass


class _CatchParser(_ClockTimerMixin, SpiffIntermediateCatchEventParser):
    pass


class _BoundaryParser(_ClockTimerMixin, SpiffBoundaryEventParser):
    pass


class EngineBpmnParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (_StartParser, StartEvent),
        full_tag("intermediateCatchEvent"): (_CatchParser, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (_BoundaryParser, BoundaryEvent),
    }

    def create_parser(self, node, filename=None, lane=None):  # type: ignore[no-untyped-def]
        # SpiffWorkflow hands an embedded sub-process's lane down to every node inside it, over the
        # nodes' own flowNodeRef. A modeler puts sub-processes into lanes by position (bpmn-js does
        # when lanes are added or resized), which would silently move inner tasks to another role.
        # Each node's lane is its own flowNodeRef, which the checker requires of user tasks.
        return super().create_parser(node, filename)
