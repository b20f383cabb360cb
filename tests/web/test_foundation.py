"""The web foundation: languages, sign-in with lockout, CSRF, errors without stack traces."""

from __future__ import annotations

from web.app import create_app

from .conftest import PASSWORD, sign_in


def test_portal_home_in_vietnamese_first_then_english(client):
    page = client.get("/").get_data(as_text=True)
    assert "Danh mục thủ tục hành chính" in page and "Đăng ký thành lập hộ kinh doanh" in page
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Administrative procedures" in english
    assert "Administrative procedures" in client.get("/").get_data(as_text=True)  # remembered


def test_sign_in_and_out(client):
    assert client.get("/staff/").status_code == 302  # to the sign-in page
    response = sign_in(client, "motcua_anbinh")
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/")
    assert "motcua_anbinh" in client.get("/staff/").get_data(as_text=True)
    assert client.post("/logout").status_code == 302
    assert client.get("/staff/").status_code == 302


def test_wrong_password_then_lockout(client, motcua):
    response = sign_in(client, "motcua_anbinh", "sai-mat-khau")
    assert response.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu" in response.get_data(
        as_text=True
    )
    assert sign_in(client, "khong_ton_tai", "x").status_code == 401  # same answer for unknown users
    for _ in range(motcua.settings.max_failed_logins - 1):
        sign_in(client, "motcua_anbinh", "sai-mat-khau")
    locked = sign_in(client, "motcua_anbinh", PASSWORD)  # even the right password now
    assert locked.status_code == 403 and "tạm thời bị khóa" in locked.get_data(as_text=True)


def test_open_redirect_is_refused(client):
    response = client.post(
        "/login?next=https://evil.example/", data={"username": "motcua_anbinh", "password": PASSWORD}
    )
    assert response.headers["Location"].endswith("/staff/")


def test_csrf_is_enforced_on_forms(motcua, app):
    strict = create_app(motcua, {"TESTING": True})
    response = strict.test_client().post("/login", data={"username": "motcua_anbinh", "password": PASSWORD})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


def test_login_is_rate_limited(motcua, app):
    limited = create_app(
        motcua, {"TESTING": True, "WTF_CSRF_ENABLED": False, "LOGIN_RATE_LIMIT": "3 per minute"}
    )
    c = limited.test_client()
    codes = [sign_in(c, "nobody", "x").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_api_errors_are_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_api_lists_procedures(client):
    body = client.get("/api/v1/procedures").get_json()
    assert {p["code"] for p in body} >= {"2.000815", "1.001193", "2.000720", "1.009994", "2.000488"}


def test_api_authentication_answers_401_with_a_challenge(client, as_user):
    for header in (
        {},
        {"Authorization": "Bearer mct_wrong"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ):
        response = client.get("/api/v1/tasks", headers=header)
        assert response.status_code == 401, header
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json()["code"] == "unauthorized"
    # a signed-in staff session is no credential on the (CSRF-exempt) API
    assert as_user("motcua_anbinh").get("/api/v1/tasks").status_code == 401


def test_json_answers_keep_vietnamese_readable(client):
    body = client.get("/api/v1/procedures").get_data(as_text=True)
    assert "Đăng ký thành lập hộ kinh doanh" in body and "\\u0110" not in body
