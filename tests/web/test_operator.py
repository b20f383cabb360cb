"""The delivery operator page: administrators see counts per receiver and state, replay dead
letters and pause/resume a receiver; everyone else is turned away."""

from __future__ import annotations

import re

import pytest

from adapters.registry import load_config
from tests.adapters.portal import Portal
from tests.adapters.test_delivery import SECRET, deliver, receive_and_accept


@pytest.fixture
def portal():
    server = Portal()
    yield server
    server.stop()


def dvcqg(portal: Portal) -> list:
    return load_config({"adapters": {"dvcqg": {"url": portal.url, "secret": SECRET}}}).adapters


def count(page: str, receiver: str, state: str) -> int:
    row = re.search(rf'<tr data-receiver="{re.escape(receiver)}">(.*?)</tr>', page, re.S)
    assert row, f"no row for {receiver}"
    cell = re.search(rf'data-state="{state}">(\d+)<', row.group(1))
    assert cell
    return int(cell.group(1))


def test_only_administrators_may_open_the_page(client, as_user):
    anonymous = client.get("/operator/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    for username in ("motcua_anbinh", "kiemtra", "thietke"):
        user = as_user(username)
        assert user.get("/operator/").status_code == 403
        assert user.post("/operator/pause", data={"receiver": "dvcqg", "reason": "x"}).status_code == 403
        assert user.post("/operator/replay", data={"delivery": "1"}).status_code == 403
    admin = as_user("quantri")
    page = admin.get("/operator/").get_data(as_text=True)
    assert "Gửi tin sang hệ thống bên ngoài" in page
    assert 'href="/operator/"' in admin.get("/staff/").get_data(as_text=True)


def test_counts_dead_letter_replay_and_pause(app, motcua, portal, as_user):
    admin = as_user("quantri")
    code = receive_and_accept(motcua)
    portal.answer("400")
    deliver(motcua, dvcqg(portal))

    page = admin.get("/operator/").get_data(as_text=True)
    assert count(page, "dvcqg", "dead") == 1 and count(page, "dvcqg", "pending") == 1
    # The dead letter with its attempt: HTTP status and the portal's answer.
    (delivery_id,) = re.findall(r'name="delivery" value="(\d+)"', page)
    letter = re.search(rf'<tr id="delivery-{delivery_id}">(.*?)</table>', page, re.S).group(1)
    assert code in letter and "<td>400</td>" in letter and "portal says 400" in letter

    done = admin.post("/operator/replay", data={"delivery": [delivery_id]}, follow_redirects=True)
    assert "Đã đưa lại 1 lượt gửi vào hàng đợi." in done.get_data(as_text=True)
    deliver(motcua, dvcqg(portal))
    assert [(b["MaHoSo"], b["TrangThaiHoSo"]) for b in portal.applied_bodies()] == [(code, 2), (code, 4)]
    page = admin.get("/operator/").get_data(as_text=True)
    assert count(page, "dvcqg", "delivered") == 2 and count(page, "dvcqg", "dead") == 0
    assert 'name="delivery"' not in page

    # Pausing needs a reason; a paused receiver's new messages wait.
    refused = admin.post("/operator/pause", data={"receiver": "dvcqg", "reason": " "}, follow_redirects=True)
    assert "Hãy nêu lý do tạm dừng bên nhận." in refused.get_data(as_text=True)
    paused = admin.post(
        "/operator/pause", data={"receiver": "dvcqg", "reason": "Bảo trì cổng"}, follow_redirects=True
    )
    text = paused.get_data(as_text=True)
    assert "Đã tạm dừng dvcqg" in text and "Bảo trì cổng" in text and "quantri" in text
    second = receive_and_accept(motcua)
    deliver(motcua, dvcqg(portal))
    assert len(portal.applied_bodies()) == 2
    assert count(admin.get("/operator/").get_data(as_text=True), "dvcqg", "pending") == 2

    resumed = admin.post("/operator/resume", data={"receiver": "dvcqg"}, follow_redirects=True)
    assert "Đã tiếp tục gửi cho dvcqg." in resumed.get_data(as_text=True)
    deliver(motcua, dvcqg(portal))
    assert [b["MaHoSo"] for b in portal.applied_bodies()][2:] == [second, second]
    assert count(admin.get("/operator/").get_data(as_text=True), "dvcqg", "delivered") == 4


def test_forms_carry_the_csrf_token(motcua, as_user):
    from adapters import operations

    operations.pause(motcua, "webhook:tinh", motcua.actor_for("quantri"), "thử nghiệm")
    page = as_user("quantri").get("/operator/").get_data(as_text=True)
    forms = re.findall(r'<form method="post".*?</form>', page, re.S)
    assert len(forms) >= 2 and all('name="csrf_token"' in f for f in forms)
