"""Request and response bodies of the REST API. The descriptions here are the OpenAPI document's."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

from engine.inbox import DUE_STATES

from .common import local_zone

CHANNELS = ("direct", "online", "postal")
# The categories of the feedback reception form (processes/forms/feedback/receive.json).
FEEDBACK_CATEGORIES = (
    "procedure_content",
    "fees",
    "forms",
    "official_behaviour",
    "outside_competence",
    "not_regulation",
)
MAX_PER_PAGE = 100


def described(text: str, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"description": text, **extra}}


class LocalDateTime(fields.DateTime):
    """An instant in ISO 8601 with the offset of the deployment's time zone (Asia/Ho_Chi_Minh, +07:00)."""

    def _serialize(self, value, attr, obj, **kwargs):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        return value.astimezone(local_zone()).isoformat()


class ErrorSchema(Schema):
    code = fields.String(**described("Machine-readable error code, e.g. `not_found`, `invalid_data`."))
    message = fields.String(**described("What went wrong, in words a developer can act on."))
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        **described(
            "Per field (dotted path, e.g. `applicant.name`): what is wrong with it. Empty otherwise."
        ),
    )


class PageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1), **described("Page number, from 1."))
    per_page = fields.Integer(
        load_default=20,
        validate=validate.Range(min=1, max=MAX_PER_PAGE),
        **described(f"Items per page (1–{MAX_PER_PAGE})."),
    )


class AgencyRefSchema(Schema):
    code = fields.String(**described("Agency code, e.g. `XA_AN_BINH`."))
    name = fields.String(**described("Agency name in Vietnamese."))


class StatusLabelSchema(Schema):
    vi = fields.String(**described("Label in Vietnamese."))
    en = fields.String(**described("Label in English."))


# -- procedures ----------------------------------------------------------------------------------


class ProcedureQuerySchema(Schema):
    q = fields.String(
        **described("Only procedures whose name (or code) contains this text, case-insensitive.")
    )
    field = fields.String(**described("Only procedures of this field (lĩnh vực), e.g. `Hộ tịch`."))


class FeeSchema(Schema):
    name = fields.String(**described("Name of the fee or charge (phí, lệ phí)."))
    amount = fields.Float(**described("Amount in đồng."))
    unit = fields.String(**described("What the amount is per (đồng/lần, đồng/trang...)."))


class RequiredComponentSchema(Schema):
    name = fields.String(**described("A document the dossier must contain (thành phần hồ sơ)."))
    copies = fields.Integer(**described("How many sets."))


class ProcedureSummarySchema(Schema):
    code = fields.String(**described("Code in the national procedure database, e.g. `2.000720`."))
    version = fields.Integer(**described("Version of the procedure in force today."))
    name = fields.String(**described("Legal name of the procedure."))
    field = fields.String(**described("Field (lĩnh vực)."))
    resolving_level = fields.String(
        **described("Level that resolves it: `ministry`, `province`, `commune`...")
    )
    time_limit = fields.Float(**described("Time limit for resolving it, in `time_unit`."))
    time_unit = fields.String(
        **described("Unit of `time_limit`: `working_days`, `calendar_days`, `working_hours` or `same_day`.")
    )
    online_level = fields.String(**described("Online service level: `full`, `partial` or `none`."))


class ProcedureSchema(ProcedureSummarySchema):
    cutoff = fields.Boolean(
        **described(
            "Whether dossiers received after the daily cut-off (15:00) count from the next working day."
        )
    )
    components = fields.List(fields.Nested(RequiredComponentSchema), **described("Required components."))
    fees = fields.List(fields.Nested(FeeSchema), **described("Fees and charges."))
    valid_from = fields.Date(**described("First day this version is in force."))
    valid_to = fields.Date(
        allow_none=True, **described("Last day this version is in force; null: open-ended.")
    )
    published_at = LocalDateTime(**described("When this version was published."))


# -- tasks ---------------------------------------------------------------------------------------


class TaskSchema(Schema):
    id = fields.Integer(**described("Task id, used in `/tasks/{id}/claim` and `/tasks/{id}/complete`."))
    case_code = fields.String(**described("Code of the dossier or feedback the task belongs to."))
    case_kind = fields.String(**described("`dossier` or `feedback`."))
    case_status = fields.String(**described("Current status of the case."))
    case_version = fields.Integer(
        **described("Current version of the case (for `expected_version`/`If-Match`).")
    )
    title = fields.String(**described("Title of the case (procedure name or feedback summary)."))
    applicant_name = fields.String(**described("Name of the applicant or feedback sender."))
    element_id = fields.String(**described("Id of the user task in the process diagram, e.g. `UT_Check`."))
    name = fields.String(**described("Name of the step, in Vietnamese."))
    role = fields.String(**described("Role that works this task: `officer`, `specialist`, `leader`..."))
    agency = fields.Nested(AgencyRefSchema, **described("Agency whose staff work this task."))
    assignee = fields.String(allow_none=True, **described("Who claimed the task; null: unclaimed."))
    status = fields.String(**described("`open`, `completed` or `cancelled`."))
    form = fields.String(allow_none=True, **described("Form the completion data must satisfy (JSON Schema)."))
    created_at = LocalDateTime(**described("When the task opened."))
    due_at = LocalDateTime(allow_none=True, **described("When the step is due."))
    completed_at = LocalDateTime(allow_none=True, **described("When the task was completed."))
    completed_by = fields.String(allow_none=True, **described("Who completed the task."))


class TaskDetailSchema(TaskSchema):
    form_schema = fields.Dict(
        allow_none=True,
        **described("The JSON Schema the `data` of `POST /tasks/{id}/complete` is validated against."),
    )


class InboxQuerySchema(PageQuerySchema):
    procedure_code = fields.String(**described("Only tasks of dossiers of this procedure code."))
    status = fields.String(**described("Only tasks of cases in this status, e.g. `received`."))
    due = fields.String(
        validate=validate.OneOf(DUE_STATES),
        **described(
            "Only tasks by due time: `overdue`, `soon` (due within one working day) or `later` (the rest, "
            "tasks without a due time included)."
        ),
    )
    code = fields.String(**described("Only tasks of cases whose code contains this text."))
    applicant = fields.String(**described("Only tasks of cases whose applicant name contains this text."))
    kind = fields.String(
        validate=validate.OneOf(["dossier", "feedback"]), **described("`dossier` or `feedback`.")
    )
    mine = fields.Boolean(load_default=False, **described("Only tasks claimed by this token."))
    team = fields.Boolean(
        load_default=False,
        **described("Leader tokens: every open task of the agency, whatever its role or assignee."),
    )


class InboxItemSchema(TaskSchema):
    due_state = fields.String(
        **described("`overdue`, `soon` (due within one working day), `later` or `none` (no due time).")
    )


class InboxSchema(Schema):
    items = fields.List(fields.Nested(InboxItemSchema), **described("Tasks of this page, most urgent first."))
    total = fields.Integer(**described("Tasks matching the filters, all pages."))
    page = fields.Integer(**described("This page's number."))
    per_page = fields.Integer(**described("Items per page."))
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        **described(
            "The token's whole workload, filters aside: `all`, `mine`, `unclaimed`, `overdue`, `soon`."
        ),
    )


class CompleteTaskSchema(Schema):
    data = fields.Dict(
        required=True,
        **described("The task's form data; validated against the task's form (`GET /tasks/{id}`)."),
    )
    expected_version = fields.Integer(
        validate=validate.Range(min=1),
        **described(
            "The case version the client saw; a different current version is a 409. The `If-Match` "
            "header may carry it instead."
        ),
    )


class StepResultSchema(Schema):
    code = fields.String(**described("Code of the case."))
    kind = fields.String(**described("`dossier` or `feedback`."))
    status = fields.String(**described("Status of the case after the change."))
    status_label = fields.Nested(StatusLabelSchema, **described("The status in words."))
    version = fields.Integer(**described("Version of the case after the change."))
    open_tasks = fields.List(fields.Nested(TaskSchema), **described("Tasks the change left open."))


# -- dossiers ------------------------------------------------------------------------------------


class ApplicantSchema(Schema):
    name = fields.String(
        required=True, validate=validate.Length(min=1, max=255), **described("Full name of the applicant.")
    )
    address = fields.String(validate=validate.Length(max=500), **described("Address."))
    phone = fields.String(validate=validate.Length(max=32), **described("Phone number."))
    email = fields.Email(**described("E-mail address."))


class DossierComponentSchema(Schema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500),
        **described("Name of the component received."),
    )
    copies = fields.Integer(load_default=1, validate=validate.Range(min=1), **described("Number of sets."))
    digitised = fields.Boolean(load_default=False, **described("Digitised at reception (số hóa)."))
    reused = fields.Boolean(
        load_default=False, **described("Reused from the citizen's data store (tái sử dụng dữ liệu số hóa).")
    )


class DossierCreateSchema(Schema):
    procedure_code = fields.String(
        required=True, **described("Code of a procedure in force, e.g. `2.000720`.")
    )
    applicant = fields.Nested(ApplicantSchema, required=True, **described("Who files the dossier."))
    id_number = fields.String(
        load_only=True,
        validate=validate.Regexp(
            r"^\d{12}$", error="must be the 12 digits of a personal identification number"
        ),
        **described(
            "Personal identification number (số định danh cá nhân, CCCD), 12 digits. Stored encrypted, "
            "never returned: reads show it masked."
        ),
    )
    channel = fields.String(
        load_default="online",
        validate=validate.OneOf(CHANNELS),
        **described("How the dossier was filed: `direct`, `online` or `postal`."),
    )
    components = fields.List(
        fields.Nested(DossierComponentSchema), load_default=list, **described("Components received.")
    )
    resolving_agency = fields.String(
        **described("Code of the agency that resolves the dossier when it is not the receiving one.")
    )


class DossierCreatedSchema(StepResultSchema):
    pin = fields.String(
        **described("6-digit PIN the applicant uses with the code to look the dossier up. Shown this once.")
    )


class DossierProcedureSchema(Schema):
    code = fields.String(**described("Procedure code."))
    version = fields.Integer(**described("Version the dossier was received under."))
    name = fields.String(**described("Procedure name."))
    time_limit = fields.Float(**described("Time limit."))
    time_unit = fields.String(**described("Unit of the time limit."))


class DossierAgenciesSchema(Schema):
    receiving = fields.Nested(AgencyRefSchema, **described("Agency that received the dossier."))
    resolving = fields.Nested(AgencyRefSchema, **described("Agency that resolves it."))


class ApplicantViewSchema(Schema):
    name = fields.String(**described("Name of the applicant."))
    id_number = fields.String(
        allow_none=True, **described("The personal identification number, masked (last 4 digits).")
    )


class DossierSchema(Schema):
    code = fields.String(**described("Dossier code (mã hồ sơ)."))
    status = fields.String(**described("Status: `new`, `received`, `processing`, `returned`..."))
    status_label = fields.Nested(StatusLabelSchema, **described("The status in words."))
    national_status_code = fields.Integer(
        allow_none=True, **described("The status code of the national public-service portal (1–10).")
    )
    channel = fields.String(**described("`direct`, `online` or `postal`."))
    completed = fields.Boolean(**described("Whether the process has ended."))
    version = fields.Integer(**described("Version of the case; changes with every step."))
    procedure = fields.Nested(
        DossierProcedureSchema, **described("The procedure version the dossier follows.")
    )
    agencies = fields.Nested(DossierAgenciesSchema, **described("Receiving and resolving agencies."))
    applicant = fields.Nested(ApplicantViewSchema, **described("The applicant, without contact details."))
    components = fields.List(
        fields.Dict(), **described("Components received (name, copies, digitised, reused).")
    )
    fees = fields.List(fields.Dict(), **described("Fees of the procedure version."))
    submitted_at = LocalDateTime(**described("When the dossier was filed."))
    received_at = LocalDateTime(allow_none=True, **described("When a complete dossier was accepted."))
    appointment_at = LocalDateTime(allow_none=True, **described("When the result is due (ngày hẹn trả)."))
    original_appointment_at = LocalDateTime(
        allow_none=True, **described("The first appointment, when it was moved by an extension.")
    )
    extension_count = fields.Integer(**described("How many times the appointment was extended (at most 1)."))
    finished_at = LocalDateTime(allow_none=True, **described("When processing ended."))
    returned_at = LocalDateTime(allow_none=True, **described("When the result was returned."))
    updated_at = LocalDateTime(**described("Last change."))
    open_tasks = fields.List(fields.Nested(TaskSchema), **described("Tasks open on the dossier now."))


class HistoryEventSchema(Schema):
    seq = fields.Integer(**described("Position in the case's history, from 1."))
    type = fields.String(**described("Event type, e.g. `case_started`, `task_completed`, `status_changed`."))
    actor = fields.String(**described("Who did it (a username, `token:<prefix>` or `system`)."))
    at = LocalDateTime(**described("When."))
    task_id = fields.String(allow_none=True, **described("Workflow task id, when the event concerns a task."))
    element = fields.String(allow_none=True, **described("Id of the diagram element concerned."))
    data = fields.Dict(**described("What changed (e.g. form data before and after)."))


class HistoryVerdictSchema(Schema):
    ok = fields.Boolean(**described("Whether the hash chain is intact."))
    checked = fields.Integer(**described("Events found intact."))
    first_bad_seq = fields.Integer(allow_none=True, **described("First altered, missing or extra event."))
    reason = fields.String(**described("Why the chain is broken; empty when intact."))


class HistorySchema(Schema):
    code = fields.String(**described("Dossier code."))
    verified = fields.Nested(HistoryVerdictSchema, **described("Verification of the history's hash chain."))
    events = fields.List(fields.Nested(HistoryEventSchema), **described("Every event, oldest first."))


class SupplementSchema(Schema):
    items = fields.List(
        fields.String(validate=validate.Length(min=1, max=500)),
        required=True,
        validate=validate.Length(min=1),
        **described("Components supplied (at least one)."),
    )
    note = fields.String(load_default="", validate=validate.Length(max=2000), **described("Free note."))


class WithdrawalSchema(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        **described("Why the applicant withdraws the dossier."),
    )


# -- feedback ------------------------------------------------------------------------------------


class SenderSchema(Schema):
    # Decree 20/2008: a feedback must carry the sender's name, address and phone.
    name = fields.String(required=True, validate=validate.Length(min=1, max=255), **described("Full name."))
    address = fields.String(required=True, validate=validate.Length(min=1, max=500), **described("Address."))
    phone = fields.String(
        required=True, validate=validate.Length(min=1, max=32), **described("Phone number.")
    )
    email = fields.Email(**described("E-mail address."))

    @validates_schema
    def not_blank(self, data: dict[str, Any], **kwargs: Any) -> None:
        blank = {
            k: ["must not be blank"]
            for k in ("name", "address", "phone")
            if k in data and not data[k].strip()
        }
        if blank:
            raise ValidationError(blank)


class FeedbackCreateSchema(Schema):
    sender = fields.Nested(
        SenderSchema, required=True, **described("The sender; name, address and phone are required by law.")
    )
    category = fields.String(
        required=True,
        validate=validate.OneOf(FEEDBACK_CATEGORIES),
        **described("Category as the sender sees it; the receiving officer confirms it."),
    )
    content = fields.String(
        required=True, validate=validate.Length(min=1, max=10000), **described("The feedback itself.")
    )


class SenderViewSchema(Schema):
    name = fields.String(**described("Name of the sender."))


class PublishedAnswerSchema(Schema):
    code = fields.String(**described("Feedback code."))
    question = fields.String(**described("The feedback as published."))
    answer = fields.String(**described("The agency's answer."))
    published_at = LocalDateTime(**described("When the answer was published."))
    likes = fields.Integer(**described("Citizens who found the answer useful."))
    dislikes = fields.Integer(**described("Citizens who did not."))
    agency = fields.Nested(AgencyRefSchema, **described("Agency that answered."))


class FeedbackSchema(Schema):
    code = fields.String(**described("Feedback code."))
    status = fields.String(**described("`received`, `handling`, `answered`, `published`, `rejected`..."))
    status_label = fields.Nested(StatusLabelSchema, **described("The status in words."))
    category = fields.String(**described("Category given at submission."))
    completed = fields.Boolean(**described("Whether the process has ended."))
    version = fields.Integer(**described("Version of the case."))
    sender = fields.Nested(SenderViewSchema, **described("The sender's name only: no contact details."))
    agencies = fields.Nested(DossierAgenciesSchema, **described("Receiving and resolving agencies."))
    submitted_at = LocalDateTime(**described("When the feedback was received."))
    finished_at = LocalDateTime(allow_none=True, **described("When handling ended."))
    answer = fields.Nested(
        PublishedAnswerSchema, allow_none=True, **described("The published answer; null until published.")
    )
    open_tasks = fields.List(fields.Nested(TaskSchema), **described("Tasks open on the feedback now."))


class PublishedQuerySchema(PageQuerySchema):
    published = fields.Boolean(
        load_default=True,
        validate=validate.Equal(
            True, error="only published answers are listed; read one with GET /feedback/{{code}}"
        ),
        **described("Must be `true`: the list holds published answers only."),
    )


class PublishedPageSchema(Schema):
    items = fields.List(fields.Nested(PublishedAnswerSchema), **described("Published answers, newest first."))
    total = fields.Integer(**described("Published answers, all pages."))
    page = fields.Integer(**described("This page's number."))
    per_page = fields.Integer(**described("Items per page."))
