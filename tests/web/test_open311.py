"""The Open311 GeoReport v2 endpoint (/open311/v2): every JSON answer checked against the
community JSON Schemas, XML carrying the same data, feedback cases started through the engine
and followed to their published answer, and the PyPI `georeport` client against a live server."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests as http
from georeport import GeoReport
from jsonschema import Draft7Validator, FormatChecker
from lxml import etree
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from sqlalchemy import select
from werkzeug.serving import make_server

from engine.access import issue_api_token
from engine.db import transaction
from engine.models import Agency, Case, CaseEvent
from web.app import create_app

BASE = "/open311/v2"
SCHEMA_URI = "https://open311.invalid/georeport-v2/"
SENDER = {
    "first_name": "Hoàng Văn",
    "last_name": "Phúc",
    "phone": "0912 345 678",
    "email": "phuc.hoang@example.vn",
    "address_string": "Số 17 đường Trần Phú, thôn Đông",
}
DESCRIPTION = "Đề nghị bỏ yêu cầu nộp bản sao giấy khai sinh khi đăng ký hộ kinh doanh"
ANSWER = "Ủy ban đã kiến nghị sửa đổi quy định về thành phần hồ sơ."
# Who works each task of feedback.bpmn at An Bình (tests/test_processes.py drives it the same way).
WORKERS = {
    "UT_Receive": ("motcua_anbinh", {"category": "fees", "summary": "Phản ánh về thành phần hồ sơ"}),
    "UT_Handle": ("chuyenvien_anbinh", {"answer_draft": ANSWER, "legal_basis": "Nghị định 20/2008"}),
    "UT_ApproveAnswer": ("lanhdao_anbinh", {"answer_decision": "approve"}),
    "UT_Publish": ("motcua_anbinh", {"publication_channels": ["portal"]}),
}

# The community set has no schema for these answers; these follow the specification's text.
DISCOVERY_SCHEMA = {
    "type": "object",
    "required": ["changeset", "contact", "endpoints"],
    "properties": {
        "changeset": {"type": "string", "format": "date-time"},
        "contact": {"type": "string"},
        "key_service": {"type": "string"},
        "endpoints": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["specification", "url", "changeset", "type", "formats"],
                "properties": {
                    "specification": {"type": "string"},
                    "url": {"type": "string", "format": "uri"},
                    "changeset": {"type": "string", "format": "date-time"},
                    "type": {"enum": ["production", "test"]},
                    "formats": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
ERRORS_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}
UPDATES_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["update_id", "service_request_id", "status", "updated_datetime"],
        "properties": {
            "update_id": {"type": "string"},
            "service_request_id": {"type": "string"},
            "status": {"enum": ["open", "closed"]},
            "updated_datetime": {"type": "string", "format": "date-time"},
            "description": {"type": ["string", "null"]},
            "media_url": {"type": ["string", "null"]},
        },
    },
}


def _schema_dir() -> Path:
    configured = os.environ.get("MOTCUA_OPEN311_SCHEMAS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "shared" / "open311" / "georeport-v2"


class Schemas:
    """The community schemas (files referring to each other by name) and the swagger definitions
    of the POST and token answers."""

    def __init__(self, folder: Path):
        # Without the community set (a checkout without ../shared) only our own schemas below are
        # checked; test_community_schemas_are_present says so with the reason.
        self.present = (folder / "request.json").is_file()
        self.raw = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")}
        resources = [
            (SCHEMA_URI + name, Resource.from_contents(body, default_specification=DRAFT7))
            for name, body in self.raw.items()
        ]
        self.registry = Registry().with_resources(resources)
        self.local: dict[str, Any] = {
            "discovery": DISCOVERY_SCHEMA,
            "errors": ERRORS_SCHEMA,
            "updates": UPDATES_SCHEMA,
        }
        if self.present:
            definitions = self.raw["swagger.json"]["definitions"]
            # The specification's own example answers a POST with "account_id": null, which the
            # swagger definition types as a plain string: allow the null it documents.
            posted = json.loads(json.dumps(definitions["RequestResponse"]))
            posted["properties"]["account_id"] = {"type": ["string", "null"]}
            self.local["post"] = {"type": "array", "minItems": 1, "items": posted}
            self.local["token"] = {"type": "array", "minItems": 1, "items": definitions["TokenResponse"]}

    def check(self, name: str, body: Any) -> None:
        if name not in self.local and not self.present:
            return
        schema = self.local.get(name) or {**self.raw[name], "$id": SCHEMA_URI + name}
        validator = Draft7Validator(schema, registry=self.registry, format_checker=FormatChecker())
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert not problems, f"{name}: {problems}"


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    return Schemas(_schema_dir())


def test_community_schemas_are_present(schemas):
    """The other tests validate every JSON answer against the community GeoReport v2 schemas
    when they are there; this one makes their absence visible instead of silent."""
    if not schemas.present:
        pytest.skip(
            f"Open311 JSON Schemas not found in {_schema_dir()}: JSON answers were checked against our "
            "own schemas only; set MOTCUA_OPEN311_SCHEMAS to the georeport-v2 folder of the community set"
        )
    assert {"request.json", "requests.json", "services.json", "swagger.json"} <= set(schemas.raw)


@pytest.fixture
def api_key(motcua) -> str:
    return issue_api_token(motcua, "open311-integrator", "XA_AN_BINH", "officer")


def get_json(client, path: str, schemas: Schemas, schema: str, status: int = 200) -> Any:
    response = client.get(BASE + path)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    schemas.check(schema, body)
    return body


def get_xml(client, path: str, status: int = 200) -> etree._Element:
    response = client.get(BASE + path)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    return etree.fromstring(response.data)


def post(client, fields: dict[str, str], fmt: str = "json"):
    return client.post(f"{BASE}/requests.{fmt}", data=fields)


def valid_fields(api_key: str, **overrides: str) -> dict[str, str]:
    return {"api_key": api_key, "service_code": "fees", "description": DESCRIPTION, **SENDER, **overrides}


def assert_error(response, status: int, names: str, schemas: Schemas) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    schemas.check("errors", body)
    assert body[0]["code"] == status
    assert body[0]["description"].startswith(names), body


def work(motcua, code: str, element_id: str) -> None:
    username, data = WORKERS[element_id]
    task = next(t for t in motcua.open_tasks(code) if t.element_id == element_id)
    motcua.complete_task(task.id, data, motcua.actor_for(username))


def assert_no_personal_data(text: str) -> None:
    for value in (*SENDER.values(), "0912345678", "Phúc"):
        assert value not in text


# -- discovery and services ----------------------------------------------------------------------------


def test_discovery_and_services_list_the_feedback_categories(client, schemas):
    discovery = get_json(client, "/discovery.json", schemas, "discovery")
    assert discovery["endpoints"][0]["url"].endswith("/open311/v2")
    assert (
        get_xml(client, "/discovery.xml").findtext("endpoints/endpoint/specification")
        == (discovery["endpoints"][0]["specification"])
    )

    services = get_json(client, "/services.json", schemas, "services.json")
    codes = [s["service_code"] for s in services]
    # The categories the classification table accepts; "not about regulations" is not offered.
    assert codes == ["procedure_content", "fees", "forms", "official_behaviour", "outside_competence"]
    fees = services[1]
    assert (fees["service_name"], fees["metadata"], fees["type"]) == ("Phí, lệ phí", False, "realtime")
    assert "Phí, lệ phí" in client.get(BASE + "/services.json").get_data(as_text=True)  # not \u-escaped

    xml = get_xml(client, "/services.xml")
    assert [s.findtext("service_code") for s in xml.findall("service")] == codes
    assert xml.find("service[2]/service_name").text == "Phí, lệ phí"
    assert xml.find("service[2]/metadata").text == "false"


def test_service_definition_has_no_attributes(client, schemas):
    definition = get_json(client, "/services/fees.json", schemas, "service-definition.json")
    assert definition == {"service_code": "fees", "attributes": []}
    xml = get_xml(client, "/services/fees.xml")
    assert (xml.tag, xml.findtext("service_code"), len(xml.find("attributes"))) == (
        "service_definition",
        "fees",
        0,
    )
    missing = client.get(BASE + "/services/not_regulation.json")
    assert_error(missing, 404, "service_code", schemas)


# -- creating requests ---------------------------------------------------------------------------------


def test_creating_a_request_needs_an_officer_api_key(client, motcua, schemas, api_key):
    fields = valid_fields(api_key)
    del fields["api_key"]
    assert_error(post(client, fields), 403, "api_key", schemas)
    assert_error(post(client, {**fields, "api_key": "mct_not-a-real-key"}), 403, "api_key", schemas)
    specialist = issue_api_token(motcua, "reader", "XA_AN_BINH", "specialist")
    assert_error(post(client, {**fields, "api_key": specialist}), 403, "api_key", schemas)

    xml = post(client, fields, "xml")
    assert xml.status_code == 403
    error = etree.fromstring(xml.data)
    assert (error.tag, error.findtext("error/code")) == ("errors", "403")
    assert error.findtext("error/description").startswith("api_key")
    with transaction(motcua.sessions) as session:
        assert session.scalars(select(Case).where(Case.kind == "feedback")).first() is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"service_code": ""}, "service_code"),
        ({"service_code": "potholes"}, "service_code"),
        ({"description": "  "}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"first_name": "", "last_name": ""}, "first_name"),
        ({"phone": "call me"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"address_string": ""}, "address_string"),
        ({"lat": "north", "long": "105.8"}, "lat"),
        ({"lat": "21.0"}, "long"),
    ],
)
def test_bad_fields_are_named(client, schemas, api_key, change, field):
    assert_error(post(client, valid_fields(api_key, **change)), 400, field, schemas)


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/requests.json?start_date=yesterday", 400, "start_date"),
        ("/requests.json?status=pending", 400, "status"),
        ("/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", 400, "end_date"),
        ("/servicerequestupdates.json?end_date=soon", 400, "end_date"),
        ("/requests.csv", 400, "response_format"),
        ("/requests/PAKN-nope.json", 404, "service_request_id"),
        ("/tokens/PAKN-nope.json", 404, "token"),
        ("/no-such-thing.json", 404, "no such"),
    ],
)
def test_bad_queries_answer_in_georeport_format(client, schemas, path, status, field):
    assert_error(client.get(BASE + path), status, field, schemas)


def test_a_request_is_a_feedback_case_followed_to_its_published_answer(client, motcua, schemas, api_key):
    response = post(client, valid_fields(api_key, lat="21.03", long="105.85", device_id="kiosk-7"))
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    schemas.check("post", answer)
    code = answer[0]["service_request_id"]
    assert code.startswith("PAKN-") and answer[0]["account_id"] is None

    # The engine has the case: received by the key's agency, with its history and the officer's task.
    with transaction(motcua.sessions) as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        agency = session.get(Agency, case.receiving_agency_id)
        events = session.scalars(select(CaseEvent.type).where(CaseEvent.case_id == case.id)).all()
        assert (case.kind, case.status, agency.code) == ("feedback", "received", "XA_AN_BINH")
        assert case.facts["category"] == "fees"
    assert "case_started" in events and motcua.verify_history(code).ok
    assert [t.element_id for t in motcua.open_tasks(code)] == ["UT_Receive"]
    assert motcua.case_data(code)["sender"]["phone"] == "0912 345 678"

    # Public reads: open, and nothing about the sender.
    raw = client.get(f"{BASE}/requests/{code}.json")
    assert_no_personal_data(raw.get_data(as_text=True))
    (found,) = get_json(client, f"/requests/{code}.json", schemas, "requests.json")
    schemas.check("request.json", found)
    assert (found["status"], found["service_code"], found["service_name"]) == ("open", "fees", "Phí, lệ phí")
    assert found["agency_responsible"] == "Ủy ban nhân dân xã An Bình"
    assert found["expected_datetime"] > found["requested_datetime"]
    assert "address" not in found and "description" not in found
    listed = get_json(client, "/requests.json", schemas, "requests.json")
    assert [r["service_request_id"] for r in listed] == [code]
    assert_no_personal_data(client.get(f"{BASE}/requests.xml").get_data(as_text=True))
    tokens = get_json(client, f"/tokens/{code}.json", schemas, "token")
    assert tokens[0]["service_request_id"] == code

    for element_id in ("UT_Receive", "UT_Handle", "UT_ApproveAnswer", "UT_Publish"):
        work(motcua, code, element_id)

    (done,) = get_json(client, f"/requests/{code}.json", schemas, "requests.json")
    assert (done["status"], done["status_notes"]) == ("closed", ANSWER)
    assert done.get("expected_datetime") is None
    xml = get_xml(client, f"/requests/{code}.xml").find("request")
    assert {child.tag: child.text for child in xml if child.text} == {
        k: str(v) for k, v in done.items() if v is not None
    }
    assert get_json(client, "/requests.json?status=open", schemas, "requests.json") == []
    assert get_json(client, "/requests.json?service_code=forms", schemas, "requests.json") == []
    assert get_json(client, f"/requests.json?service_request_id={code},PAKN-x", schemas, "requests.json") == [
        done
    ]

    updates = get_json(client, "/servicerequestupdates.json", schemas, "updates")
    mine = [(u["status"], u["description"]) for u in updates if u["service_request_id"] == code]
    assert mine[-3:] == [
        ("open", "Đang xử lý"),
        ("open", "Đã có kết quả trả lời"),
        ("closed", "Đã công khai"),
    ]
    updates_text = client.get(f"{BASE}/servicerequestupdates.xml").get_data(as_text=True)
    assert_no_personal_data(updates_text)
    assert etree.fromstring(updates_text.encode()).findtext("request_update[last()]/status") == "closed"


# -- a real client over HTTP -----------------------------------------------------------------------------


@pytest.fixture
def live_url(motcua) -> Iterator[str]:
    """The app, CSRF protection on as in production, served on a free local port."""
    app = create_app(motcua, {"TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{BASE}"
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_reads_our_endpoint(live_url, api_key, fmt):
    client = GeoReport(live_url, output_format=fmt)
    services = client.get_service_list()
    assert "fees" in [s["service_code"] for s in services]
    assert client.get_service_definition("fees")["service_code"] == "fees"

    # The client has no call to create a request: post the form the way the specification says.
    created = http.post(f"{live_url}/requests.{fmt}", data=valid_fields(api_key), timeout=10)
    assert created.status_code == 200, created.text
    if fmt == "json":
        code = created.json()[0]["service_request_id"]
    else:
        code = etree.fromstring(created.content).findtext("request/service_request_id")

    found = client.get_service_request(code)
    assert (found["service_request_id"], found["status"], found["service_code"]) == (code, "open", "fees")
    listed = client.get_service_requests(service_request_id=code)
    listed = listed if isinstance(listed, list) else [listed]  # xmltodict: one element is not a list
    assert [r["service_request_id"] for r in listed] == [code]
