"""blinker signals, sent only after the transaction that made the change has committed.

Receivers get `sender` = the Motcua runtime and keyword `case_id`, `case_code`, `events` (list of
event type names of that step)."""

from blinker import Namespace

_signals = Namespace()

case_started = _signals.signal("case-started")
case_changed = _signals.signal("case-changed")
task_created = _signals.signal("task-created")
task_completed = _signals.signal("task-completed")
case_finished = _signals.signal("case-finished")
