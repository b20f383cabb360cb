"""Lifecycle benchmark: N `dossier_standard` dossiers from reception to returned result.

Two runs in one process, same machine, same moment:
  engine  – motcua with persistence (SQLite by default, --database URL for PostgreSQL) after
            every step: restore, advance, project, history, outbox, commit;
  bare    – SpiffWorkflow alone in memory, serialising and restoring the instance (spec kept
            out, cached spec injected) after every step: the floor any persistence must pay.

Prints one JSON object: lifecycles/s and per-step p50/p95 (ms) for both, `ratio` =
engine rate / bare rate, and the average stored state size per finished case.
Targets (docs/benchmarks.md): ratio ≥ 0.5 on SQLite, ≥ 0.33 on PostgreSQL; state ≤ 16 KB."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.calendar import VN_TZ  # noqa: E402
from engine.clock import ManualClock  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.db import throwaway_postgres_database, transaction  # noqa: E402
from engine.definitions import compile_bundle, load_bundle  # noqa: E402
from engine.models import Case  # noqa: E402
from engine.motcua import Motcua  # noqa: E402
from engine.sandbox import SandboxScriptEngine  # noqa: E402
from engine.script_functions import CaseScope, build_functions  # noqa: E402
from engine.seed import load_seed  # noqa: E402
from engine.state import StateSerializer  # noqa: E402

PROCEDURE = "2.000720"  # household business registration, 3 working days
# The happy path: data each user task of dossier_standard receives, by element id.
HAPPY_PATH: dict[str, dict[str, Any]] = json.loads(
    (ROOT / "benchmarks" / "happy_path.json").read_text("utf-8")
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


@contextmanager
def throwaway_database(url: str | None, home: Path) -> Iterator[str]:
    """A fresh SQLite file, or a fresh database on the PostgreSQL server `url` points at."""
    if not url:
        yield f"sqlite:///{home}/bench.sqlite3"
        return
    with throwaway_postgres_database(url, f"motcua_bench_{os.getpid()}") as fresh:
        yield fresh


def run_engine(n: int, database: str | None) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    with throwaway_database(database, home) as url:
        return _run_engine(n, url, home)


def _run_engine(n: int, url: str, home: Path) -> dict[str, Any]:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=VN_TZ))
    m = Motcua(replace(Settings(), home=home), clock=clock, database_url=url)
    m.migrate()
    load_seed(m)
    m.deploy_processes()
    actors = {
        role: m.actor_for(user)
        for role, user in (
            ("officer", "motcua_anbinh"),
            ("specialist", "chuyenvien_anbinh"),
            ("leader", "lanhdao_anbinh"),
        )
    }
    steps: list[float] = []
    codes: list[str] = []
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        result = m.receive_dossier(
            PROCEDURE,
            "XA_AN_BINH",
            applicant={"name": "Nguyễn Văn Bình", "phone": "0912345678"},
            actor=actors["officer"],
        )
        steps.append(time.perf_counter() - t0)
        # Each step reports the tasks it left open, as a staff member's "next task" would.
        while result.open_tasks:
            task = result.open_tasks[0]
            t0 = time.perf_counter()
            result = m.complete_task(task.id, HAPPY_PATH[task.element_id], actors[task.role])
            steps.append(time.perf_counter() - t0)
        codes.append(result.case_code)
    elapsed = time.perf_counter() - start
    with transaction(m.sessions) as session:
        size = session.scalar(select(func.avg(func.length(Case.state))))
        statuses = set(session.scalars(select(Case.status)))
    m.db.dispose()
    return {
        "lifecycles_per_s": n / elapsed,
        "step_p50_ms": percentile(steps, 0.5) * 1000,
        "step_p95_ms": percentile(steps, 0.95) * 1000,
        "steps": len(steps),
        "avg_state_bytes": float(size or 0),
        "final_statuses": sorted(statuses),
    }


def run_bare(n: int) -> dict[str, Any]:
    m = Motcua(replace(Settings(), home=Path(tempfile.mkdtemp())), database_url="sqlite://")
    m.migrate()
    compiled, _ = compile_bundle(
        load_bundle(ROOT / "processes" / "dossier_standard.bpmn", ROOT / "processes" / "forms")
    )
    serializer = StateSerializer()
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=VN_TZ))
    steps: list[float] = []
    start = time.perf_counter()
    for _ in range(n):
        scope = CaseScope(clock=clock, calendar=m.calendar, time_limit=3, time_unit="working_days")
        engine = SandboxScriptEngine(build_functions(scope))
        engine.clock = clock
        t0 = time.perf_counter()
        wf = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=engine)
        wf.get_tasks(state=TaskState.READY)[0].data.update(
            {"applicant": {"name": "Nguyễn Văn Bình"}, "agencies": {"receiving": "A", "resolving": "A"}}
        )
        wf.do_engine_steps()
        state = serializer.dump(wf)
        steps.append(time.perf_counter() - t0)
        while True:
            t0 = time.perf_counter()
            wf = serializer.load(state, compiled.spec, compiled.subprocess_specs, engine)
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            task = ready[0]
            task.set_data(**HAPPY_PATH[task.task_spec.name])
            task.run()
            wf.do_engine_steps()
            state = serializer.dump(wf)
            steps.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    return {
        "lifecycles_per_s": n / elapsed,
        "step_p50_ms": percentile(steps, 0.5) * 1000,
        "step_p95_ms": percentile(steps, 0.95) * 1000,
        "steps": len(steps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100, help="dossiers per run (default 100)")
    parser.add_argument(
        "--database",
        help="PostgreSQL URL of a server where a throw-away database may be created "
        "(default: a fresh SQLite file)",
    )
    args = parser.parse_args()
    bare = run_bare(args.n)
    engine = run_engine(args.n, args.database)
    print(
        json.dumps(
            {
                "n": args.n,
                "database": "postgresql" if (args.database or "").startswith("postgresql") else "sqlite",
                "engine": engine,
                "bare": bare,
                "ratio": round(engine["lifecycles_per_s"] / bare["lifecycles_per_s"], 3),
                "avg_state_kb": round(engine["avg_state_bytes"] / 1024, 2),
                "median_step_ratio": round(bare["step_p50_ms"] / engine["step_p50_ms"], 3)
                if engine["step_p50_ms"]
                else None,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
