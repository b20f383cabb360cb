"""Web fixtures: the Flask app on a seeded database, staff with passwords, a logged-in client."""

from __future__ import annotations

import pytest

from engine.access import set_password
from web.app import create_app
from web.extensions import limiter

PASSWORD = "mat-khau-thu-nghiem"
STAFF = (
    "motcua_anbinh",
    "chuyenvien_anbinh",
    "lanhdao_anbinh",
    "motcua_phumy",
    "chuyenvien_phumy",
    "lanhdao_phumy",
    "congan_anbinh",
    "kiemtra",
    "thietke",
    "quantri",
)


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch):
    """Production argon2 parameters cost ~50 ms a hash; tests hash dozens of passwords."""
    from argon2 import PasswordHasher

    import engine.access

    monkeypatch.setattr(
        engine.access, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def app(motcua):
    for username in STAFF:
        set_password(motcua, username, PASSWORD)
    app = create_app(motcua, {"TESTING": True, "WTF_CSRF_ENABLED": False})
    limiter.reset()
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def sign_in(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def as_user(app):
    """A factory of clients signed in as the given staff member."""

    def make(username: str):
        c = app.test_client()
        response = sign_in(c, username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return c

    return make
