"""Workflow state (de)serialization without the process spec.

The spec is parsed once per deployed version and cached; each case stores only its own tasks and
data. Restoring injects the cached spec, which is what keeps a step cheap (see SPIFFWORKFLOW.md)."""

from __future__ import annotations

import json
import zlib
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.config import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from .bpmn_parser import ClockDuration, ClockTimeDate

# Owned by us (trap 6): bump it and write a migration whenever the stored shape changes.
STATE_FORMAT = "motcua-1"


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec=None, subprocess_specs=None) -> BpmnWorkflow:  # type: ignore[no-untyped-def,override]
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class StateSerializer:
    def __init__(self) -> None:
        config = dict(SPIFF_CONFIG)
        config[BpmnWorkflow] = _SpeclessWorkflowConverter
        # Our clock-reading timers can appear inside task data (event-based gateways keep the
        # events they have seen), so the serializer must know them.
        config[ClockTimeDate] = TimerConditionalEventDefinitionConverter
        config[ClockDuration] = TimerConditionalEventDefinitionConverter
        self._serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
        self._registry = self._serializer.registry

    @property
    def registry(self) -> Any:
        """The converters (SpiffWorkflow's and ours); migration compares specs through them."""
        return self._registry

    def dump(self, workflow: BpmnWorkflow) -> bytes:
        self._registry._encoder_mode = True
        try:
            dct = self._registry.convert(workflow)
        finally:
            self._registry._encoder_mode = False
        # ensure_ascii=False: Vietnamese text would otherwise grow by a third. zlib level 1 cuts the
        # stored size about six-fold for ~0.1 ms a step.
        text = json.dumps(dct, ensure_ascii=False, separators=(",", ":"), cls=self._serializer._encoder_cls)
        return zlib.compress(text.encode("utf-8"), 1)

    def text(self, blob: bytes) -> str:
        """The stored state as JSON text (for support and tests)."""
        return zlib.decompress(blob).decode("utf-8")

    def load(
        self, blob: bytes, spec: Any, subprocess_specs: dict[str, Any], script_engine: Any
    ) -> BpmnWorkflow:
        dct = json.loads(zlib.decompress(blob), cls=self._serializer.json_decoder_cls)
        workflow = self._registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)
        workflow.script_engine = script_engine
        return workflow
