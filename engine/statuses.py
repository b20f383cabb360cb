"""Case statuses as data (engine/data/statuses.json): labels, national portal codes, and which
statuses stop the clock, end processing or mark the result returned."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "statuses.json"


@dataclass(frozen=True)
class Status:
    kind: str
    key: str
    vi: str
    en: str
    national_code: int | None = None
    pauses_clock: bool = False
    ends_processing: bool = False
    returns_result: bool = False


@cache
def statuses(path: Path = DATA) -> dict[tuple[str, str], Status]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    out: dict[tuple[str, str], Status] = {}
    for kind, table in raw.items():
        if kind.startswith("_"):
            continue
        for key, spec in table.items():
            out[(kind, key)] = Status(
                kind=kind,
                key=key,
                vi=spec["vi"],
                en=spec["en"],
                national_code=spec.get("national_code"),
                pauses_clock=spec.get("pauses_clock", False),
                ends_processing=spec.get("ends_processing", False),
                returns_result=spec.get("returns_result", False),
            )
    return out


def status_keys() -> set[str]:
    return {key for _, key in statuses()}


def get_status(kind: str, key: str) -> Status:
    try:
        return statuses()[(kind, key)]
    except KeyError:
        raise KeyError(f"unknown {kind} status {key!r}") from None
