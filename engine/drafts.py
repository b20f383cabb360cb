"""Process drafts (bản nháp quy trình): what a designer edits in the browser modeler before it
becomes a version.

A draft is stored even while it has problems, so work in progress is never lost; every save
answers with the checker's problems. Deploying a draft runs the same checks as
`motcua process deploy` and records who deployed it and why in the process log."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from string import Template
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import load_only

from .actors import Actor
from .config import REPO_ROOT
from .definitions import BPMN_NS, Bundle, bundle_from_bytes
from .errors import DefinitionInvalid, FormInvalid, InvalidAction, NotFound, Problem
from .models import ProcessDefinition, ProcessDraft
from .versions import VersionDiff, diff_definitions, require_designer, require_process_reader
from .xml_safety import parse_xml

if TYPE_CHECKING:
    from .motcua import Motcua

TEMPLATES_DIR = REPO_ROOT / "processes" / "templates"
PROCESS_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_TITLE = 255
MAX_FORM_NAME = 255
_EMPTY_DEFINITIONS = f'<definitions xmlns="{BPMN_NS}" id="Empty" targetNamespace="empty"/>'


def draft_bundle(m: Motcua, xml: str | bytes, forms: dict[str, Any], filename: str) -> Bundle:
    """The bundle a draft would deploy, built like `load_bundle` builds one from files: the DMN
    files beside the shipped processes that the XML calls, and the forms the XML names (the
    draft's own first, then the shipped ones). Never raises: unreadable XML gives a bundle the
    checker reports on, with the line."""
    content = xml.encode("utf-8") if isinstance(xml, str) else xml
    if len(content) > m.settings.max_definition_bytes:
        return Bundle(filename=filename, bpmn=content)  # the checker names the limit
    return bundle_from_bytes(content, filename, m.settings.processes_dir, m.forms_dir, forms)


def save_draft(
    m: Motcua,
    actor: Actor,
    *,
    xml: str | bytes,
    forms: dict[str, Any] | None = None,
    draft_id: int | None = None,
    process_id: str | None = None,
    based_on_version: int | None = None,
    title: str | None = None,
) -> tuple[ProcessDraft, list[Problem]]:
    """Create (no draft_id) or update a draft and return it with its problems. The process id is
    read from the BPMN (first executable process); the caller's is kept when the XML does not say.
    `forms=None` keeps the draft's forms; a dict replaces them. Saving a deployed draft again
    starts new work based on the version it became."""
    require_designer(actor)
    content = xml.encode("utf-8") if isinstance(xml, str) else xml
    limit = m.settings.max_definition_bytes
    if len(content) > limit:
        raise InvalidAction(f"the BPMN is {len(content)} bytes; the limit is {limit}")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidAction(f"the BPMN is not UTF-8 text (byte {err.start})") from err
    if forms is not None:
        check_form_names(forms)
    if title is not None and len(title.strip()) > MAX_TITLE:
        raise InvalidAction(f"title is longer than {MAX_TITLE} characters")
    parsed_id, parsed_name = process_identity(content, limit)
    now = m.clock.now()
    with m._transaction() as session:
        draft = None
        if draft_id is not None:
            draft = session.get(ProcessDraft, draft_id)
            if draft is None:
                raise NotFound(f"draft {draft_id} does not exist")
        pid = parsed_id or process_id or (draft.process_id if draft else None)
        if not pid or len(pid) > 128:
            raise InvalidAction("process_id is required (1 to 128 characters): the BPMN names no process")
        latest = _latest_version(session, pid)
        if based_on_version is not None and not _version_exists(session, pid, based_on_version):
            raise NotFound(f"process {pid!r} has no version {based_on_version}")
        if draft is None:
            draft = ProcessDraft(
                author=actor.username,
                created_at=now,
                forms={},
                title=(title or "").strip() or parsed_name or pid,
                based_on_version=latest,
            )
            session.add(draft)
        elif title is not None and title.strip():
            draft.title = title.strip()
        if draft.deployed_version is not None:
            draft.based_on_version, draft.deployed_version = draft.deployed_version, None
        if based_on_version is not None:
            draft.based_on_version = based_on_version
        elif draft.process_id and draft.process_id != pid:
            draft.based_on_version = latest  # the XML now names another process
        draft.process_id = pid
        draft.bpmn_xml = text
        if forms is not None:
            draft.forms = dict(forms)
        draft.updated_at = now
        draft.updated_by = actor.username
        session.flush()
    return draft, check_draft(m, draft)


def get_draft(m: Motcua, actor: Actor, draft_id: int) -> ProcessDraft:
    require_process_reader(actor)
    with m._transaction() as session:
        draft = session.get(ProcessDraft, draft_id)
        if draft is None:
            raise NotFound(f"draft {draft_id} does not exist")
        return draft


def list_drafts(m: Motcua, actor: Actor, process_id: str | None = None) -> list[ProcessDraft]:
    """Drafts, most recently edited first (XML included: callers show or open them)."""
    require_process_reader(actor)
    with m._transaction() as session:
        query = select(ProcessDraft).order_by(ProcessDraft.updated_at.desc(), ProcessDraft.id.desc())
        if process_id is not None:
            query = query.where(ProcessDraft.process_id == process_id)
        return list(session.scalars(query))


def delete_draft(m: Motcua, actor: Actor, draft_id: int) -> None:
    require_designer(actor)
    with m._transaction() as session:
        draft = session.get(ProcessDraft, draft_id)
        if draft is None:
            raise NotFound(f"draft {draft_id} does not exist")
        session.delete(draft)


def check_draft(m: Motcua, draft: ProcessDraft) -> list[Problem]:
    return m.checker().check(draft_bundle(m, draft.bpmn_xml, draft.forms, draft_filename(draft)))


def deploy_draft(m: Motcua, actor: Actor, draft_id: int, note: str) -> ProcessDefinition:
    """Deploy the draft as the process's next version; `note` says why (required, kept in the
    process log). DefinitionInvalid with every problem when the draft has any. When identical
    content is already deployed, that version is returned with `already_deployed = True` and
    nothing new is stored or logged; otherwise `already_deployed` is False."""
    require_designer(actor)
    if not note or not note.strip():
        raise InvalidAction("note is required: say why this version is deployed")
    draft = get_draft(m, actor, draft_id)
    bundle = draft_bundle(m, draft.bpmn_xml, draft.forms, draft_filename(draft))
    compiled, problems = m.checker().check_and_compile(bundle)
    if compiled is None or problems:
        raise DefinitionInvalid(problems)
    with m._transaction() as session:
        definition, created = m.store_definition(session, bundle, compiled, actor, note.strip())
        row = session.get(ProcessDraft, draft_id)
        if row is None:
            raise NotFound(f"draft {draft_id} does not exist")
        row.deployed_version = definition.version
    # Not a column: tells the caller whether this deploy made a new version.
    definition.already_deployed = not created  # type: ignore[attr-defined]
    return definition


def diff_draft(m: Motcua, actor: Actor, draft_id: int) -> VersionDiff:
    """What the draft changes compared with the version it is based on (or the latest one);
    everything is added for a process never deployed."""
    require_process_reader(actor)
    draft = get_draft(m, actor, draft_id)
    bundle = draft_bundle(m, draft.bpmn_xml, draft.forms, draft_filename(draft))
    with m._transaction() as session:
        version = draft.based_on_version or _latest_version(session, draft.process_id)
        base = None
        if version is not None:
            base = session.scalars(
                select(ProcessDefinition).where(
                    ProcessDefinition.process_id == draft.process_id, ProcessDefinition.version == version
                )
            ).first()
    if base is None:
        return diff_definitions(_EMPTY_DEFINITIONS, bundle.bpmn, {}, bundle.forms, {}, bundle.dmn)
    return diff_definitions(base.bpmn_xml, bundle.bpmn, base.forms, bundle.forms, base.dmn_files, bundle.dmn)


def new_process_xml(process_id: str, name: str, templates_dir: Path | None = None) -> str:
    """A new process to start drawing from: our three lanes (one-stop desk, specialist, leader),
    a start event, one reception task and an end event, with diagram layout."""
    if not isinstance(process_id, str) or not PROCESS_ID.match(process_id):
        raise InvalidAction(
            f"process id {process_id!r} must start with a letter or _ and use only letters, digits "
            "and _ (at most 64)"
        )
    text = ((templates_dir or TEMPLATES_DIR) / "new_process.bpmn").read_text(encoding="utf-8")
    # The process id must not clash with an element of the template, nor with SpiffWorkflow's own
    # "Start" and "End" tasks.
    taken = {"Start", "End"} | {i for i in re.findall(r'\bid="([^"$]+)"', text)}
    if process_id in taken:
        raise InvalidAction(f"process id {process_id!r} is already the id of an element; choose another")
    label = (name or "").strip() or process_id
    return Template(text).substitute(
        process_id=process_id, name=escape(label, {'"': "&quot;", "'": "&apos;"})
    )


def check_form_names(forms: dict[str, Any]) -> None:
    """Form names are relative paths under processes/forms/ ending in .json (`dossier/check.json`)."""
    errors: dict[str, list[str]] = {}
    for name in forms:
        message = _form_name_problem(name)
        if message:
            errors[str(name)] = [message]
    if errors:
        raise FormInvalid(errors)


def draft_filename(draft: ProcessDraft) -> str:
    return f"{draft.process_id}.bpmn"


def process_identity(content: bytes, max_bytes: int) -> tuple[str | None, str | None]:
    """(id, name) of the first executable process, or (None, None) when the XML does not say."""
    root, _ = parse_xml(content, "draft.bpmn", max_bytes)
    if root is None:
        return None, None
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("isExecutable") == "true" and process.get("id"):
            return process.get("id"), (process.get("name") or "").strip() or None
    return None, None


def _form_name_problem(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return "a form name must be a non-empty text"
    if len(name) > MAX_FORM_NAME:
        return f"a form name is at most {MAX_FORM_NAME} characters"
    path = PurePosixPath(name)
    if "\\" in name or path.is_absolute() or ".." in path.parts or "" in name.split("/"):
        return "a form name must be a relative path under processes/forms/ without '..'"
    if path.suffix != ".json" or path.stem == "":
        return "a form name must end in .json"
    return None


def _latest_version(session: Any, process_id: str) -> int | None:
    latest = session.scalars(
        select(ProcessDefinition)
        .options(load_only(ProcessDefinition.version))
        .where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.version.desc())
    ).first()
    return latest.version if latest else None


def _version_exists(session: Any, process_id: str, version: int) -> bool:
    return (
        session.scalars(
            select(ProcessDefinition.id).where(
                ProcessDefinition.process_id == process_id, ProcessDefinition.version == version
            )
        ).first()
        is not None
    )
