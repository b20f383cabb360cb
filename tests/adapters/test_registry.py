"""Adapter configuration, request building and back-off, without a database or network."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from adapters import registry
from adapters.delivery import backoff
from adapters.dvcqg import DvcqgAdapter
from adapters.registry import ConfigError, Message, MessageRejected, RetryPolicy, load_config, verify

GOOD_SECRET = "0123456789abcdef"


def problems(config: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config)  # type: ignore[arg-type]
    return caught.value.problems


def test_errors_name_the_key_and_all_are_reported_at_once():
    found = problems(
        {
            "adapters": {
                "dvcqg": {"url": "http://portal.example.vn/api", "secret": "short", "fields": {"nope": "x"}},
                "webhook": {
                    "subscribers": [{"name": "tinh", "url": "https://t.example.vn", "topics": ["x"]}]
                },
                "fax": {},
            },
            "retry": {"max_attempts": 0, "jitter": 1},
        }
    )
    assert "adapters.dvcqg.url: must be an https:// or http://127.0.0.1 URL" in found
    assert "adapters.dvcqg.secret: must be a string of at least 16 characters" in found
    assert "adapters.dvcqg.fields.nope: unknown field" in found
    assert "adapters.webhook.subscribers[0].secret: is required" in found
    assert any(p.startswith("adapters.webhook.subscribers[0].topics: 'x' is not one of") for p in found)
    assert any(p.startswith("adapters.fax: unknown adapter") for p in found)
    assert "retry.max_attempts: must be between 1 and 100" in found
    assert "retry.jitter: unknown key" in found
    assert "adapters.dvcqg.url" in str(ConfigError(found))


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://dichvucong.gov.vn/api", True),
        ("http://127.0.0.1:8080/x", True),
        ("http://localhost:8080/x", False),
        ("http://10.0.0.5/x", False),
        ("ftp://127.0.0.1/x", False),
        ("https://", False),
    ],
)
def test_only_encrypted_or_local_urls(url, ok):
    config = {"adapters": {"dvcqg": {"url": url, "secret": GOOD_SECRET}}}
    if ok:
        assert load_config(config).adapters[0].url == url
    else:
        assert problems(config) == ["adapters.dvcqg.url: must be an https:// or http://127.0.0.1 URL"]


def test_duplicate_subscriber_names_and_disabled_adapters():
    sub = {"name": "tinh", "url": "https://a.example.vn", "secret": GOOD_SECRET}
    assert problems({"adapters": {"webhook": {"subscribers": [sub, sub]}}}) == [
        "adapters: two receivers are named 'webhook:tinh'"
    ]
    off = {"adapters": {"dvcqg": {"enabled": False, "url": "nonsense"}}}
    assert load_config(off).adapters == []


def test_config_from_file_and_environment(tmp_path, monkeypatch):
    path = tmp_path / "adapters.json"
    path.write_text(
        json.dumps({"adapters": {"dvcqg": {"url": "https://p.example.vn", "secret": GOOD_SECRET}}})
    )
    monkeypatch.setenv("MOTCUA_ADAPTERS", str(path))
    assert [a.instance for a in load_config().adapters] == ["dvcqg"]
    path.write_text("{broken")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(path)
    monkeypatch.delenv("MOTCUA_ADAPTERS")
    assert load_config().adapters == []


def test_registry_lookup():
    assert registry.get("dvcqg") is DvcqgAdapter
    assert registry.names() == ["dvcqg", "email", "pakn", "sms", "webhook"]
    with pytest.raises(KeyError, match="no adapter named 'fax'"):
        registry.get("fax")


def message(**payload: object) -> Message:
    base = {"kind": "dossier", "code": "000.01.01.H99-260302-0001", "national_status_code": 9}
    return Message(1, 1, "case.status_changed", {**base, **payload}, "k:1", datetime(2026, 3, 2, tzinfo=UTC))


def test_dvcqg_takes_dossier_status_changes_only_and_rejects_unknown_codes():
    (adapter,) = load_config(
        {"adapters": {"dvcqg": {"url": "https://p.example.vn", "secret": GOOD_SECRET}}}
    ).adapters
    assert adapter.takes(message())
    assert not adapter.takes(message(kind="feedback"))
    request = adapter.build_request(message())
    assert request.headers["Idempotency-Key"] == "k:1"
    assert verify(GOOD_SECRET, request.body, request.headers["X-Motcua-Signature"])
    assert json.loads(request.body)["TrangThaiHoSo"] == 9
    for bad in (0, 11, None, "9", True):
        with pytest.raises(MessageRejected, match="1–10"):
            adapter.build_request(message(national_status_code=bad))


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    policy = RetryPolicy(base_seconds=10, cap_seconds=100)
    rng = random.Random(1)
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (12, 100)]:
        waits = [backoff(attempts, policy, rng).total_seconds() for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1  # jittered
