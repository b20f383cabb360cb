"""Dossier codes: pattern per agency, unique and gap-free per agency and day under concurrency."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from engine.catalogue import agency_by_code
from engine.codes import next_code, validate_pattern
from engine.db import transaction


def test_pattern_validation():
    validate_pattern("{eid}-{yymmdd}-{seq:04d}")
    with pytest.raises(ValueError, match="must contain"):
        validate_pattern("{eid}-{yymmdd}")
    with pytest.raises(ValueError, match="unknown field"):
        validate_pattern("{eid.__class__}-{seq}")


def test_custom_pattern_per_agency(motcua):
    with transaction(motcua.sessions) as session:
        agency = agency_by_code(session, "XA_PHU_MY")
        agency.dossier_code_pattern = "{eid}.{yyyy}{mm}{dd}.{seq:06d}"
    with transaction(motcua.sessions) as session:
        code = next_code(session, agency_by_code(session, "XA_PHU_MY"), date(2026, 3, 2))
    assert code == "000.02.01.H99.20260302.000001"


def test_rolled_back_reception_leaves_no_gap(motcua):
    with pytest.raises(RuntimeError), transaction(motcua.sessions) as session:
        next_code(session, agency_by_code(session, "XA_AN_BINH"), date(2026, 3, 2))
        raise RuntimeError("reception failed")
    with transaction(motcua.sessions) as session:
        assert next_code(session, agency_by_code(session, "XA_AN_BINH"), date(2026, 3, 2)).endswith("-0001")


def test_concurrent_receptions_get_distinct_gap_free_codes(motcua):
    codes: list[str] = []
    lock = threading.Lock()
    officer = motcua.actor_for("motcua_anbinh")

    def receive() -> None:
        for _ in range(5):
            result = motcua.receive_dossier("2.000720", "XA_AN_BINH", applicant={"name": "A"}, actor=officer)
            with lock:
                codes.append(result.case_code)

    threads = [threading.Thread(target=receive) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    numbers = sorted(int(c.rsplit("-", 1)[1]) for c in codes)
    assert numbers == list(range(1, 21))
