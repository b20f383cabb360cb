"""National feedback system (hệ thống tiếp nhận phản ánh, kiến nghị, PAKN): pushes each status
change of a feedback case and, with the publication, the answer text. Like the dossier portal,
no official specification is public: the endpoint and every field name are configuration.

The body never carries the sender's personal data (name, phone, address, ID number): the
feedback system learns what was asked and answered, not who asked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .registry import Adapter, Message, MessageRejected, Reader, Request, register

# Our name for each synced fact → the default name in the feedback system's JSON body.
DEFAULT_FIELDS: dict[str, str] = {
    "feedback_code": "MaPAKN",
    "category": "PhanLoai",
    "status": "TrangThai",
    "status_from": "TrangThaiTruoc",
    "channel": "HinhThucTiepNhan",
    "receiving_agency": "CoQuanTiepNhan",
    "resolving_agency": "CoQuanXuLy",
    "submitted_at": "NgayGui",
    "received_at": "NgayTiepNhan",
    "finished_at": "NgayXuLyXong",
    "answer": "NoiDungTraLoi",
    "published_at": "NgayCongKhai",
    "changed_at": "ThoiDiemCapNhat",
}


@register
class PaknAdapter(Adapter):
    name = "pakn"

    def __init__(self, *, fields: dict[str, str], **kwargs: Any):
        super().__init__(**kwargs)
        self.fields = {**DEFAULT_FIELDS, **fields}

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], path: str, problems: list[str]) -> list[Adapter]:
        reader = Reader(raw, path, problems)
        adapter = cls(
            instance="pakn",
            url=reader.url(),
            secret=reader.secret(),
            topics=("case.status_changed",),
            timeout=reader.number("timeout", 10, minimum=0.05, maximum=120),
            fields=reader.string_map("fields", DEFAULT_FIELDS),
        )
        reader.no_other_keys()
        return [adapter]

    def takes(self, message: Message) -> bool:
        # Dossiers go to the public-service portal; only feedback cases are ours.
        return super().takes(message) and message.payload.get("kind") == "feedback"

    def build_request(self, message: Message) -> Request:
        payload = message.payload
        if not payload.get("code"):
            raise MessageRejected("the message has no feedback code")
        change = payload.get("change") or {}
        status = change.get("to") or payload.get("status")
        if not status:
            raise MessageRejected("the message has no feedback status")
        # Only a published answer is public; an answer still awaiting publication stays ours.
        answer = payload.get("answer") if status == "published" else None
        values = {
            "feedback_code": payload["code"],
            "category": payload.get("category"),
            "status": status,
            "status_from": change.get("from"),
            "channel": payload.get("channel"),
            "receiving_agency": (payload.get("receiving_agency") or {}).get("electronic_id"),
            "resolving_agency": (payload.get("resolving_agency") or {}).get("electronic_id"),
            "submitted_at": payload.get("submitted_at"),
            "received_at": payload.get("received_at"),
            "finished_at": payload.get("finished_at"),
            "answer": answer.get("text") if answer else None,
            "published_at": answer.get("published_at") if answer else None,
            "changed_at": message.created_at.isoformat(),
        }
        return self.json_request(message, {self.fields[key]: value for key, value in values.items()})
