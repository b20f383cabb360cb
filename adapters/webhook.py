"""Generic signed webhook (e.g. the provincial portal): case events POSTed as JSON to each
subscriber. One adapter instance per subscriber, so each has its own secret, topics and retry
history, and a subscriber that is down never holds back delivery bookkeeping of the others."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .registry import Adapter, Message, Reader, Request, register

TOPICS = ("case.status_changed", "case.appointment_changed")


@register
class WebhookAdapter(Adapter):
    name = "webhook"

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], path: str, problems: list[str]) -> list[Adapter]:
        reader = Reader(raw, path, problems)
        result: list[Adapter] = []
        for sub_path, sub in reader.objects("subscribers"):
            sub_reader = Reader(sub, sub_path, problems)
            name = sub_reader.name()
            adapter = cls(
                instance=f"webhook:{name}",
                url=sub_reader.url(),
                secret=sub_reader.secret(),
                topics=sub_reader.string_list("topics", list(TOPICS), allowed=TOPICS),
                timeout=sub_reader.number("timeout", 10, minimum=0.05, maximum=120),
            )
            sub_reader.no_other_keys()
            result.append(adapter)
        reader.no_other_keys()
        return result

    def build_request(self, message: Message) -> Request:
        return self.json_request(
            message,
            {
                "topic": message.topic,
                "idempotency_key": message.idempotency_key,
                "occurred_at": message.created_at.isoformat(),
                "case": message.payload,
            },
        )
