"""Designer pages and the JSON endpoints the browser modeler calls (contract in
docs/designer-client.md). Every read and write goes through the engine's designer services, which
check the actor's role themselves; the pages only choose what to show."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf.csrf import generate_csrf
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine import drafts as draft_service
from engine import migration, process_log, versions
from engine.actors import Actor
from engine.errors import DefinitionInvalid, InvalidAction, MotcuaError, NotFound, Problem
from engine.runtime import definition_loader
from engine.scenarios import ScenarioInvalid, load_scenarios, run_scenarios, scenario_file_for

from ..auth import require_actor
from ..errors import status_of
from ..services import motcua
from ..staff.forms import build_fields
from . import bp
from .dialect import dialect, shipped_forms
from .labels import client_labels

DESIGN_ROLES = frozenset({"designer", "admin"})
READ_ROLES = DESIGN_ROLES | {"auditor"}


@bp.context_processor
def _helpers() -> dict[str, Any]:
    from ..staff.labels import _english

    return {"is_english": _english, "can_design": lambda: _can_design(require_actor())}


def _can_design(actor: Actor) -> bool:
    return bool(actor.roles & DESIGN_ROLES)


def _reader() -> Actor:
    actor = require_actor()
    if not actor.roles & READ_ROLES:
        abort(
            403, description=_("Only process designers, auditors and administrators may open the designer.")
        )
    return actor


def _designer() -> Actor:
    actor = require_actor()
    if not _can_design(actor):
        abort(403, description=_("Only process designers and administrators may change processes."))
    return actor


# -- pages ---------------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> str:
    actor = _reader()
    m = motcua()
    processes = versions.list_processes(m, actor)
    drafts = draft_service.list_drafts(m, actor) if _can_design(actor) else []
    return render_template("designer/index.html", processes=processes, drafts=drafts)


@bp.post("/new")
@login_required
def new_process() -> Any:
    actor = _designer()
    process_id = request.form.get("process_id", "").strip()
    name = request.form.get("name", "").strip()
    m = motcua()
    try:
        xml = draft_service.new_process_xml(process_id, name or process_id)
        draft, _problems = draft_service.save_draft(m, actor, xml=xml, process_id=process_id, title=name)
    except MotcuaError as err:
        flash(str(err), "error")
        return redirect(url_for(".index"))
    return redirect(url_for(".draft", draft_id=draft.id))


@bp.post("/import")
@login_required
def import_file() -> Any:
    """A BPMN file made with another tool becomes a draft; the check then says what the engine
    would refuse (or that the file is a model only)."""
    actor = _designer()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a BPMN file to import."), "error")
        return redirect(url_for(".index"))
    m = motcua()
    content = upload.read(m.settings.max_definition_bytes + 1)
    try:
        xml = content.decode("utf-8")
    except UnicodeDecodeError:
        flash(_("%(file)s is not UTF-8 text.", file=upload.filename), "error")
        return redirect(url_for(".index"))
    stem = re.sub(r"[^A-Za-z0-9_]", "_", upload.filename.rsplit(".", 1)[0])[:64] or "imported"
    if not re.match(r"[A-Za-z_]", stem):
        stem = f"p_{stem}"[:64]
    try:
        row, problems = draft_service.save_draft(m, actor, xml=xml, process_id=stem, title=upload.filename)
    except MotcuaError as err:
        flash(str(err), "error")
        return redirect(url_for(".index"))
    flash(
        _(
            "%(file)s imported as draft #%(id)s with %(n)s problem(s).",
            file=upload.filename,
            id=row.id,
            n=len(problems),
        ),
        "info" if not problems else "error",
    )
    return redirect(url_for(".draft", draft_id=row.id))


@bp.get("/processes/<process_id>")
@login_required
def process(process_id: str) -> str:
    actor = _reader()
    m = motcua()
    rows = versions.list_versions(m, actor, process_id)
    version = request.args.get("version", type=int) or rows[0].version
    if version not in {r.version for r in rows}:
        raise NotFound(f"process {process_id!r} has no version {version}")
    counts = versions.element_counts(m, actor, process_id, version)
    counts_config = {
        "xml": versions.version_xml(m, actor, process_id, version),
        "counts": {k: {"open": c.open, "overdue": c.overdue} for k, c in counts.items()},
        "labels": {"overdue": _("overdue")},
    }
    return render_template(
        "designer/process.html",
        process_id=process_id,
        versions=rows,
        version=version,
        counts=counts,
        counts_config=counts_config,
        drafts=draft_service.list_drafts(m, actor, process_id) if _can_design(actor) else [],
        history=process_log.process_history(m, actor, process_id),
        scenario_file=_scenario_name(m, process_id),
    )


@bp.get("/processes/<process_id>/versions/<int:version>/edit")
@login_required
def edit_version(process_id: str, version: int) -> str:
    actor = _reader()
    m = motcua()
    definition = versions.definition_for(m, process_id, version)
    return _modeler(
        actor,
        title=_("%(process)s version %(version)s", process=process_id, version=version),
        process_id=process_id,
        xml=definition.bpmn_xml,
        forms={},
        draft_id=None,
        based_on_version=version,
        problems=[],
    )


@bp.get("/drafts/<int:draft_id>")
@login_required
def draft(draft_id: int) -> str:
    actor = _designer()
    m = motcua()
    row = draft_service.get_draft(m, actor, draft_id)
    return _modeler(
        actor,
        title=_("Draft #%(id)s of %(process)s", id=row.id, process=row.process_id),
        process_id=row.process_id,
        xml=row.bpmn_xml,
        forms=row.forms or {},
        draft_id=row.id,
        based_on_version=row.based_on_version,
        problems=draft_service.check_draft(m, row),
        draft_row=row,
    )


@bp.post("/drafts/<int:draft_id>/delete")
@login_required
def delete_draft(draft_id: int) -> Any:
    actor = _designer()
    m = motcua()
    row = draft_service.get_draft(m, actor, draft_id)
    draft_service.delete_draft(m, actor, draft_id)
    flash(_("Draft #%(id)s deleted.", id=draft_id), "info")
    if _has_versions(row.process_id):
        return redirect(url_for(".process", process_id=row.process_id))
    return redirect(url_for(".index"))


def _modeler(
    actor: Actor,
    *,
    title: str,
    process_id: str,
    xml: str,
    forms: dict[str, Any],
    draft_id: int | None,
    based_on_version: int | None,
    problems: list[Problem],
    draft_row: Any = None,
) -> str:
    m = motcua()
    all_forms = {**shipped_forms(m), **forms}
    config = {
        "processId": process_id,
        "xml": xml,
        "draftId": draft_id,
        "basedOnVersion": based_on_version,
        "readOnly": not _can_design(actor),
        "forms": all_forms,
        "editedForms": forms,
        "dialect": dialect(m),
        "problems": [_problem(p) for p in problems],
        "urls": {
            "saveDraft": url_for(".api_save"),
            "check": url_for(".api_check"),
            "deploy": url_for(".api_deploy"),
            "formPreview": url_for(".api_form_preview"),
        },
        "csrfToken": generate_csrf(),
        "labels": client_labels(),
    }
    return render_template(
        "designer/modeler.html",
        title=title,
        process_id=process_id,
        draft=draft_row,
        based_on_version=based_on_version,
        config=config,
        problems=problems,
    )


def _has_versions(process_id: str) -> bool:
    try:
        versions.list_versions(motcua(), require_actor(), process_id)
    except NotFound:
        return False
    return True


def _scenario_name(m: Any, process_id: str) -> str | None:
    path = m.settings.processes_dir / f"{process_id}.bpmn"
    candidate = scenario_file_for(path)
    return candidate.name if candidate.is_file() else None


# -- diff, migration, scenarios ------------------------------------------------------------------


@bp.get("/processes/<process_id>/diff")
@login_required
def diff(process_id: str) -> str:
    actor = _reader()
    m = motcua()
    rows = versions.list_versions(m, actor, process_id)
    newest = rows[0].version
    a = request.args.get("a", type=int) or max(newest - 1, 1)
    b = request.args.get("b", type=int) or newest
    result = versions.diff_versions(m, actor, process_id, a, b)
    return render_template(
        "designer/diff.html",
        process_id=process_id,
        versions=rows,
        a=a,
        b=b,
        label_a=_("version %(v)s", v=a),
        label_b=_("version %(v)s", v=b),
        diff=result,
        diff_config=_diff_config(versions.version_xml(m, actor, process_id, b), result),
    )


@bp.get("/drafts/<int:draft_id>/diff")
@login_required
def draft_diff(draft_id: int) -> str:
    actor = _designer()
    m = motcua()
    row = draft_service.get_draft(m, actor, draft_id)
    result = draft_service.diff_draft(m, actor, draft_id)
    base = row.based_on_version
    return render_template(
        "designer/diff.html",
        process_id=row.process_id,
        versions=[],
        a=base,
        b=None,
        label_a=_("version %(v)s", v=base) if base else _("an empty process"),
        label_b=_("draft #%(id)s", id=row.id),
        draft=row,
        diff=result,
        diff_config=_diff_config(row.bpmn_xml, result),
    )


def _diff_config(xml: str, result: Any) -> dict[str, Any]:
    return {
        "xml": xml,
        "added": [c.element_id for c in result.added],
        "changed": [c.element_id for c in result.changed],
        "removed": [c.element_id for c in result.removed],
    }


@bp.route("/processes/<process_id>/migrate", methods=["GET", "POST"])
@login_required
def migrate(process_id: str) -> Any:
    actor = _reader()
    m = motcua()
    rows = versions.list_versions(m, actor, process_id)
    newest = rows[0].version
    with_cases = [r.version for r in rows if r.open_cases and r.version != newest]
    source = request.values.get("from", type=int) or (with_cases[0] if with_cases else newest)
    target = request.values.get("to", type=int) or newest
    report = None
    if request.method == "POST":
        actor = _designer()
        codes = request.form.getlist("case")
        if not codes:
            flash(_("Choose at least one case to migrate."), "error")
        else:
            # The lock versions seen in the dry run: a case changed since then is refused, not moved blind.
            seen = {code: request.form.get(f"v_{code}", type=int) for code in codes}
            report = migration.migrate_cases(
                m,
                actor,
                process_id,
                source,
                target,
                codes,
                note=request.form.get("note", "").strip(),
                expected_versions={code: v for code, v in seen.items() if v is not None},
            )
            flash(
                _(
                    "%(moved)s case(s) moved to version %(to)s; %(refused)s stayed on version %(from_)s.",
                    moved=len(report.moved),
                    to=target,
                    refused=len(report.refused),
                    from_=source,
                ),
                "info",
            )
    plan = None
    error = None
    if source != target:
        try:
            plan = migration.plan_migration(m, actor, process_id, source, target)
        except (InvalidAction, NotFound) as err:
            error = str(err)
    return render_template(
        "designer/migrate.html",
        process_id=process_id,
        versions=rows,
        source=source,
        target=target,
        plan=plan,
        report=report,
        error=error,
        can_design=_can_design(actor),
    )


@bp.post("/processes/<process_id>/scenarios")
@login_required
def run_process_scenarios(process_id: str) -> Any:
    actor = _reader()
    m = motcua()
    draft_id = request.form.get("draft_id", type=int)
    if draft_id:
        row = draft_service.get_draft(m, _designer(), draft_id)
        bundle = draft_service.draft_bundle(m, row.bpmn_xml, row.forms or {}, f"{row.process_id}.bpmn")
        subject = _("draft #%(id)s", id=row.id)
    else:
        version = request.form.get("version", type=int) or _latest(m, actor, process_id)
        definition = versions.definition_for(m, process_id, version)
        bundle = definition_loader(definition)()
        subject = _("version %(v)s", v=version)
    path = scenario_file_for(m.settings.processes_dir / f"{process_id}.bpmn")
    results: list[Any] = []
    problems: list[str] = []
    if not path.is_file():
        problems = [
            _("This process has no scenarios yet: add %(file)s beside its BPMN file.", file=path.name)
        ]
    else:
        try:
            results = run_scenarios(bundle, load_scenarios(path), processes_dir=m.settings.processes_dir)
        except ScenarioInvalid as err:
            problems = list(err.problems)
        except DefinitionInvalid as err:
            problems = [_("The process cannot run: %(problem)s", problem=str(p)) for p in err.problems]
    return render_template(
        "designer/scenarios.html",
        process_id=process_id,
        subject=subject,
        file=path.name,
        results=results,
        problems=problems,
        draft_id=draft_id,
    )


def _latest(m: Any, actor: Actor, process_id: str) -> int:
    return versions.list_versions(m, actor, process_id)[0].version


# -- JSON endpoints for the modeler --------------------------------------------------------------


def json_endpoint(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answers in JSON whatever happens: the modeler shows `message` and keeps the diagram."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            message = _("The request body must be a JSON object.")
            return jsonify(code="bad_request", message=message, errors={}), 400
        try:
            return view(body, *args, **kwargs)
        except DefinitionInvalid as err:
            return jsonify(
                code="invalid_definition",
                message=_("The process has %(n)s problem(s); it cannot be deployed.", n=len(err.problems)),
                problems=[_problem(p) for p in err.problems],
                errors={},
            ), 422
        except MotcuaError as err:
            status, code = status_of(err)
            return jsonify(code=code, message=str(err), errors=getattr(err, "errors", {}) or {}), status

    return wrapper


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidAction(_("'%(field)s' is required and must be text.", field=name))
    return value


def _forms(body: dict[str, Any]) -> dict[str, Any]:
    forms = body.get("forms") or {}
    if not isinstance(forms, dict) or not all(isinstance(v, dict) for v in forms.values()):
        raise InvalidAction(_("'forms' must map form names to JSON Schema objects."))
    return forms


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAction(_("'%(field)s' must be a whole number.", field=name))
    return value


@bp.post("/api/save")
@login_required
@json_endpoint
def api_save(body: dict[str, Any]) -> Any:
    actor = _designer()
    m = motcua()
    draft_id = _optional_int(body, "draft_id")
    forms = _forms(body)
    if draft_id is not None:
        # Forms edited in earlier sessions of this draft stay unless this save replaces them.
        forms = {**(draft_service.get_draft(m, actor, draft_id).forms or {}), **forms}
    row, problems = draft_service.save_draft(
        m,
        actor,
        xml=_text(body, "xml"),
        forms=forms,
        draft_id=draft_id,
        process_id=body.get("process_id") if isinstance(body.get("process_id"), str) else None,
        based_on_version=_optional_int(body, "based_on_version"),
    )
    return jsonify(
        draft_id=row.id,
        saved_at=row.updated_at.isoformat(),
        problems=[_problem(p) for p in problems],
        deployable=not problems,
        url=url_for(".draft", draft_id=row.id),
    )


@bp.post("/api/check")
@login_required
@json_endpoint
def api_check(body: dict[str, Any]) -> Any:
    _reader()
    m = motcua()
    bundle = draft_service.draft_bundle(m, _text(body, "xml"), _forms(body), "draft.bpmn")
    return jsonify(problems=[_problem(p) for p in m.checker().check(bundle)])


@bp.post("/api/deploy")
@login_required
@json_endpoint
def api_deploy(body: dict[str, Any]) -> Any:
    actor = _designer()
    m = motcua()
    draft_id = _optional_int(body, "draft_id")
    if draft_id is None:
        raise InvalidAction(_("Save the draft before deploying it."))
    note = body.get("note") if isinstance(body.get("note"), str) else ""
    definition = draft_service.deploy_draft(m, actor, draft_id, note)
    return jsonify(
        version=definition.version,
        process_id=definition.process_id,
        already_deployed=bool(getattr(definition, "already_deployed", False)),
        url=url_for(".process", process_id=definition.process_id, version=definition.version),
    )


@bp.post("/api/form-preview")
@login_required
@json_endpoint
def api_form_preview(body: dict[str, Any]) -> Any:
    _reader()
    schema = body.get("schema")
    if not isinstance(schema, dict):
        return jsonify(code="invalid_data", message=_("The form must be a JSON object."), errors={}), 422
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        where = "/".join(str(p) for p in err.path) or "schema"
        return jsonify(code="invalid_data", message=f"{where}: {err.message}", errors={}), 422
    html = render_template("designer/_form_preview.html", fields=build_fields(schema), schema=schema)
    return jsonify(html=html)


def _problem(p: Problem) -> dict[str, Any]:
    return {"line": p.line, "element_id": p.element_id, "message": p.message}
