"""Agencies (a tree of any depth) and procedure versions (immutable once published)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from engine.catalogue import (
    agency_by_code,
    procedure_in_force,
    publish_procedure,
    subtree_ids,
    upsert_agency,
)
from engine.db import transaction
from engine.errors import InvalidAction, NotFound
from engine.models import Case, OutboxMessage, Procedure
from engine.seed import DEMO_SEED, load_seed, procedure_spec


def test_agency_tree_of_any_depth(motcua):
    with transaction(motcua.sessions) as session:
        upsert_agency(session, "BO_TP", "Bộ Tư pháp", "ministry", "000.00.00.G10")
        upsert_agency(session, "TINH_X", "Tỉnh X", "province", "000.00.00.H01", parent_code="BO_TP")
        upsert_agency(session, "HUYEN_X", "Huyện X", "district", "000.01.00.H01", parent_code="TINH_X")
        upsert_agency(session, "XA_X", "Xã X", "commune", "000.01.01.H01", parent_code="HUYEN_X")
        ministry = agency_by_code(session, "BO_TP")
        below = {
            a.code
            for a in session.scalars(select(type(ministry)))
            if a.id in subtree_ids(session, ministry.id)
        }
        assert below == {"BO_TP", "TINH_X", "HUYEN_X", "XA_X"}
        with pytest.raises(InvalidAction, match="level"):
            upsert_agency(session, "BAD", "Bad", "village", "x")


def test_published_procedure_is_immutable_and_dossiers_keep_their_version(motcua, clock):
    officer = motcua.actor_for("motcua_anbinh")
    first = motcua.receive_dossier("2.000720", "XA_AN_BINH", applicant={"name": "A"}, actor=officer).case_code
    seed_item = next(
        p
        for p in __import__("json").loads(DEMO_SEED.read_text("utf-8"))["procedures"]
        if p["code"] == "2.000720"
    )
    changed = replace(procedure_spec(seed_item), time_limit=5.0)
    with transaction(motcua.sessions) as session:
        v1 = procedure_in_force(session, "2.000720", date(2026, 3, 2))
        v2 = publish_procedure(session, changed, clock.now())
        same = publish_procedure(session, changed, clock.now())
        assert (v1.version, v2.version, same.id) == (1, 2, v2.id)
        assert session.get(Procedure, v1.id).time_limit == 3.0  # the published row did not change
    second = motcua.receive_dossier(
        "2.000720", "XA_AN_BINH", applicant={"name": "B"}, actor=officer
    ).case_code
    with transaction(motcua.sessions) as session:
        versions = {c.code: c.procedure.version for c in session.scalars(select(Case))}
    assert versions == {first: 1, second: 2}


def test_procedure_validity_dates(motcua, clock):
    seed_item = {
        "code": "9.999",
        "name": "Thủ tục sắp có hiệu lực",
        "field": "Thử",
        "resolving_level": "commune",
        "time_limit": 1,
        "time_unit": "working_days",
        "process_id": "dossier_standard",
        "valid_from": (clock.now().date() + timedelta(days=10)).isoformat(),
    }
    with transaction(motcua.sessions) as session:
        publish_procedure(session, procedure_spec(seed_item), clock.now())
    with pytest.raises(NotFound, match="not in force"):
        motcua.receive_dossier(
            "9.999", "XA_AN_BINH", applicant={"name": "A"}, actor=motcua.actor_for("motcua_anbinh")
        )


def test_seed_is_idempotent(motcua):
    with transaction(motcua.sessions) as session:
        before = len(session.scalars(select(Procedure)).all())
    load_seed(motcua)
    with transaction(motcua.sessions) as session:
        assert len(session.scalars(select(Procedure)).all()) == before >= 5


def test_portal_messages_carry_the_synced_fields(motcua):
    officer = motcua.actor_for("motcua_anbinh")
    components = [{"name": "Giấy đề nghị", "digitised": True}, {"name": "Biên bản họp", "reused": True}]
    code = motcua.receive_dossier(
        "2.000720",
        "XA_AN_BINH",
        applicant={"name": "A", "id_number": "001099000001"},
        actor=officer,
        channel="online",
        components=components,
    ).case_code
    task = motcua.open_tasks(code)[0]
    motcua.complete_task(task.id, {"reception_decision": "accept"}, officer)
    with transaction(motcua.sessions) as session:
        messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    keys = [m.idempotency_key for m in messages]
    assert len(keys) == len(set(keys)) == 3
    received = next(m.payload for m in messages if m.payload.get("status") == "received")
    assert received["code"] == code and received["procedure_code"] == "2.000720"
    assert received["national_status_code"] == 2 and received["channel"] == "online"
    assert received["components"][0] == {
        "name": "Giấy đề nghị",
        "copies": 1,
        "digitised": True,
        "reused": False,
    }
    assert received["fees"][0]["amount"] == 100000
    assert received["receiving_agency"] == {"code": "XA_AN_BINH", "electronic_id": "000.01.01.H99"}
    assert received["resolving_agency"]["code"] == "XA_AN_BINH"
    assert received["appointment_at"] and received["received_at"]
    assert "001099000001" not in str([m.payload for m in messages])  # no ID numbers to portals


def test_components_need_a_name(motcua):
    with pytest.raises(InvalidAction, match=r"components\[0\].name"):
        motcua.receive_dossier(
            "2.000720",
            "XA_AN_BINH",
            applicant={"name": "A"},
            components=[{"copies": 1}],
            actor=motcua.actor_for("motcua_anbinh"),
        )
