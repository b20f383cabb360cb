"""Deployment settings, read once from the environment. Everything a province may set differently
lives here or in the database, never as a constant in code."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    home: Path = Path("instance")
    database_url: str = ""
    processes_dir: Path = REPO_ROOT / "processes"
    office_hours: str = "07:00-11:30,13:30-17:00"
    timezone: str = "Asia/Ho_Chi_Minh"
    cutoff: str = "15:00"
    script_time_limit: float = 1.0
    max_definition_bytes: int = 2 * 1024 * 1024
    # Login lockout: this many failures lock the account for lockout_minutes.
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    # Wrong PINs before a case's public lookup is refused (the applicant asks the desk).
    max_failed_lookups: int = 10
    # Staff roles a BPMN lane may name.
    roles: tuple[str, ...] = ("officer", "specialist", "leader", "designer", "auditor", "admin")
    # Statutory limits for feedback (Decree 20/2008 as measured on the portal); data, not code.
    feedback_limits: dict[str, int] = field(
        default_factory=lambda: {
            "reject_days": 2,
            "supplement_days": 5,
            "transfer_days": 5,
            "handle_days": 15,
            "publish_days": 2,
            "remind_before_days": 2,
        }
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'motcua.sqlite3').resolve()}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("MOTCUA_HOME", "instance"))
        kwargs: dict[str, object] = {"home": home, "database_url": env.get("MOTCUA_DATABASE_URL", "")}
        if "MOTCUA_PROCESSES" in env:
            kwargs["processes_dir"] = Path(env["MOTCUA_PROCESSES"])
        if "MOTCUA_OFFICE_HOURS" in env:
            kwargs["office_hours"] = env["MOTCUA_OFFICE_HOURS"]
        if "MOTCUA_SCRIPT_TIME_LIMIT" in env:
            kwargs["script_time_limit"] = float(env["MOTCUA_SCRIPT_TIME_LIMIT"])
        return cls(**kwargs)  # type: ignore[arg-type]
