"""National feedback system (hệ thống tiếp nhận phản ánh, kiến nghị, PAKN): pushes each status
change of a feedback case and, with the publication, the answer text. Like the dossier portal,
no official specification is public: the endpoint and every field name are configuration.

The body never carries the sender's personal data (name, phone, address, ID number): the
feedback system learns what was asked and answered, not who asked."""

from __future__ import annotations

from .registry import Message, MessageRejected, PortalAdapter, Request, register

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
class PaknAdapter(PortalAdapter):
    name = "pakn"
    case_kind = "feedback"
    default_fields = DEFAULT_FIELDS

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
        return self.mapped_request(message, values)
