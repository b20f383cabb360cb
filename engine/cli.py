"""`motcua` commands that need only the engine (no Flask). `web.cli` adds `demo` on top."""

from __future__ import annotations

import sys
import time
from datetime import date, datetime
from pathlib import Path

import click

from .actors import SYSTEM
from .calendar import TimeUnit
from .config import Settings
from .errors import DefinitionInvalid
from .motcua import Motcua


def _motcua() -> Motcua:
    return Motcua.from_env()


@click.group()
def cli() -> None:
    """motcua: workflow engine for administrative procedures and citizen feedback."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (creates the SQLite file under MOTCUA_HOME if needed)."""
    m = _motcua()
    m.migrate()
    click.echo(f"database at head: {m.db.url.render_as_string(hide_password=True)}")


@cli.group()
def process() -> None:
    """BPMN process definitions."""


@process.command("check")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def process_check(files: tuple[Path, ...]) -> None:
    """Print every problem as FILE:LINE: ELEMENT_ID: message; exit 1 if any."""
    m = Motcua.from_env(database_url="sqlite://")
    m.migrate()
    count = 0
    for path in files:
        for problem in m.check_file(path):
            click.echo(f"{path}:{problem.line}: {problem.element_id or '-'}: {problem.message}")
            count += 1
    if count:
        click.echo(f"{count} problem(s)", err=True)
        sys.exit(1)
    click.echo(f"{len(files)} file(s) clean", err=True)


@process.command("deploy")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", default="", help="Why this version is deployed (kept in the record).")
def process_deploy(files: tuple[Path, ...], note: str) -> None:
    """Deploy the given BPMN files (default: every file in processes/) as new versions."""
    m = _motcua()
    m.migrate()
    paths = list(files) or sorted(m.settings.processes_dir.glob("*.bpmn"))
    failed = False
    for path in paths:
        try:
            definition = m.deploy_file(path, SYSTEM, note)
            click.echo(f"{definition.process_id} v{definition.version} {definition.sha256[:12]}")
        except DefinitionInvalid as err:
            failed = True
            for problem in err.problems:
                click.echo(f"{path}:{problem.line}: {problem.element_id or '-'}: {problem.message}")
    if failed:
        sys.exit(1)


@process.command("test")
@click.argument("processes", nargs=-1)
@click.option("--scenario", "only", metavar="NAME", help="Run only the scenario with this name.")
def process_test(processes: tuple[str, ...], only: str | None) -> None:
    """Run the scenarios beside each PROCESS (a process id in processes/ or a .bpmn path; default:
    every process in processes/ with a scenario file). Exit 1 if any fails."""
    from .errors import NotFound
    from .scenarios import find_process_file, processes_with_scenarios

    processes_dir = Settings.from_env().processes_dir
    try:
        named = [find_process_file(p, processes_dir) for p in processes]
    except NotFound as err:
        raise click.BadParameter(str(err)) from None
    paths = named or processes_with_scenarios(processes_dir)
    if not paths:
        click.echo(f"no scenario files in {processes_dir}", err=True)
        sys.exit(1)
    began, tally = time.perf_counter(), {"passed": 0, "failed": 0}
    for path in paths:
        for line in _test_process(path, processes_dir, only, tally):
            click.echo(line)
    if only and not tally["passed"] and not tally["failed"]:
        click.echo(f"no scenario named {only!r}", err=True)
        sys.exit(1)
    elapsed = time.perf_counter() - began
    click.echo(f"{tally['passed']} passed, {tally['failed']} failed in {elapsed:.1f} s", err=True)
    if tally["failed"]:
        sys.exit(1)


def _test_process(path: Path, processes_dir: Path, only: str | None, tally: dict[str, int]) -> list[str]:
    """The report lines of one process's scenarios; counts them in `tally`."""
    from .scenarios import ScenarioInvalid, run_file, scenario_file_for

    label = path.stem
    if not scenario_file_for(path).is_file():
        tally["failed"] += 1
        return [f"FAIL {label}: no scenario file {scenario_file_for(path)}"]
    try:
        results = run_file(path, processes_dir=processes_dir, only=only)
    except ScenarioInvalid as err:
        tally["failed"] += 1
        return [f"FAIL {label}: the scenario file is invalid", *(f"    {p}" for p in err.problems)]
    except DefinitionInvalid as err:
        tally["failed"] += 1
        problems = (f"    {path}:{p.line}: {p.element_id or '-'}: {p.message}" for p in err.problems)
        return [f"FAIL {label}: the process cannot be deployed", *problems]
    lines = []
    for result in results:
        tally["passed" if result.passed else "failed"] += 1
        verdict = "PASS" if result.passed else "FAIL"
        lines.append(f"{verdict} {label}: {result.name} ({result.duration_ms:.0f} ms)")
        lines += [f"    {failure}" for failure in result.failures]
    return lines


@cli.group()
def calendar() -> None:
    """The working-day calendar."""


def _parse_start(value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date-time") from None
    if instant.tzinfo is None:
        from .calendar import VN_TZ

        instant = instant.replace(tzinfo=VN_TZ)
    return instant


@calendar.command("due")
@click.argument("start")
@click.argument("amount", type=float)
@click.option(
    "--unit",
    type=click.Choice([u.value.replace("_", "-") for u in TimeUnit]),
    default="working-days",
    show_default=True,
)
@click.option(
    "--cutoff", is_flag=True, help="Apply the 15:00 rule: later receptions count from the next working day."
)
def calendar_due(start: str, amount: float, unit: str, cutoff: bool) -> None:
    """Print the appointment for START plus AMOUNT (ISO 8601 with offset)."""
    m = _motcua()
    m.migrate()
    due = m.calendar.add(_parse_start(start), amount, unit.replace("-", "_"), cutoff=cutoff)
    click.echo(due.isoformat())


@calendar.command("is-working")
@click.argument("day")
def calendar_is_working(day: str) -> None:
    """Print yes or no."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter(f"{day!r} is not a date (YYYY-MM-DD)") from None
    m = _motcua()
    m.migrate()
    click.echo("yes" if m.calendar.is_working_day(parsed) else "no")


@cli.command()
@click.option("--once", is_flag=True, help="Fire what is due now, then exit.")
@click.option("--interval", type=float, default=5.0, show_default=True, help="Seconds between polls.")
def worker(once: bool, interval: float) -> None:
    """Fire due timers, forever (or once)."""
    m = _motcua()
    while True:
        fired = m.fire_due_timers()
        if fired:
            click.echo(f"fired {fired} case(s)")
        if once:
            return
        time.sleep(interval)


@cli.command()
def seed() -> None:
    """Load agencies, procedures, staff and calendar notices, and deploy processes/."""
    from .seed import load_seed

    m = _motcua()
    m.migrate()
    load_seed(m)
    for definition in m.deploy_processes():
        click.echo(f"{definition.process_id} v{definition.version}")


@cli.group()
def history() -> None:
    """Case history."""


@history.command("verify")
@click.argument("case_code")
def history_verify(case_code: str) -> None:
    """Check the hash chain of a case's history."""
    verdict = _motcua().verify_history(case_code)
    if verdict.ok:
        click.echo(f"intact: {verdict.checked} event(s)")
    else:
        click.echo(f"BROKEN at event {verdict.first_bad_seq}: {verdict.reason}")
        sys.exit(1)


@cli.group()
def token() -> None:
    """API tokens for integrators (hashed at rest; shown once)."""


@token.command("issue")
@click.argument("name")
@click.argument("agency_code")
@click.argument("role")
def token_issue(name: str, agency_code: str, role: str) -> None:
    """Issue a bearer token scoped to AGENCY_CODE and ROLE; print it once."""
    from .access import issue_api_token

    click.echo(issue_api_token(_motcua(), name, agency_code, role))


@token.command("revoke")
@click.argument("prefix")
def token_revoke(prefix: str) -> None:
    """Revoke the token(s) whose text starts with PREFIX (at least 12 characters)."""
    from .access import revoke_api_token

    if len(prefix) < 12:
        raise click.BadParameter("give at least the first 12 characters of the token")
    click.echo(f"revoked {revoke_api_token(_motcua(), prefix)} token(s)")
