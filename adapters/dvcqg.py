"""National public-service portal (Cổng Dịch vụ công quốc gia, DVCQG): pushes dossier status
changes with the national status codes 1–10 (DOMAIN.md). No official specification is public,
so the endpoint and every field name are configuration; the defaults are only a starting point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .registry import Message, MessageRejected, PortalAdapter, Reader, Request, register

# Our name for each synced fact → the default name in the portal's JSON body.
DEFAULT_FIELDS: dict[str, str] = {
    "dossier_code": "MaHoSo",
    "procedure_code": "MaTTHC",
    "status_code": "TrangThaiHoSo",
    "status_from": "TrangThaiTruoc",
    "channel": "KenhThucHien",
    "receiving_agency": "CoQuanTiepNhan",
    "resolving_agency": "CoQuanXuLy",
    "submitted_at": "NgayNopHoSo",
    "received_at": "NgayTiepNhan",
    "appointment_at": "NgayHenTra",
    "finished_at": "NgayKetThucXuLy",
    "returned_at": "NgayTraKetQua",
    "components": "DanhSachGiayTo",
    "fees": "DanhSachLePhi",
    "paid_online": "ThanhToanTrucTuyen",
    "changed_at": "ThoiDiemCapNhat",
    "status_history": "LichSuTrangThai",
    "result_url": "DuongDanKetQua",
    "vneid": "XacThucVNeID",
}

# Statuses from which the dossier has a result the applicant can fetch (9 processed, 10 returned).
RESULT_CODES = frozenset({9, 10})


@register
class DvcqgAdapter(PortalAdapter):
    name = "dvcqg"
    case_kind = "dossier"
    default_fields = DEFAULT_FIELDS

    def __init__(self, *, result_url_base: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.result_url_base = result_url_base

    @classmethod
    def extra_config(cls, raw: Mapping[str, Any], reader: Reader) -> dict[str, Any]:
        return {"result_url_base": reader.url("result_url_base") if "result_url_base" in raw else None}

    def build_request(self, message: Message) -> Request:
        payload = message.payload
        code = payload.get("national_status_code")
        if isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 10:
            raise MessageRejected(f"national_status_code {code!r} is not one of the portal's codes 1–10")
        if not payload.get("code"):
            raise MessageRejected("the message has no dossier code")
        change = payload.get("change") or {}
        values = {
            "dossier_code": payload["code"],
            "procedure_code": payload.get("procedure_code"),
            "status_code": code,
            "status_from": change.get("from"),
            "channel": payload.get("channel"),
            # The portal knows agencies by their electronic identifier (mã định danh điện tử).
            "receiving_agency": (payload.get("receiving_agency") or {}).get("electronic_id"),
            "resolving_agency": (payload.get("resolving_agency") or {}).get("electronic_id"),
            "submitted_at": payload.get("submitted_at"),
            "received_at": payload.get("received_at"),
            "appointment_at": payload.get("appointment_at"),
            "finished_at": payload.get("finished_at"),
            "returned_at": payload.get("returned_at"),
            "components": payload.get("components", []),
            "fees": payload.get("fees", []),
            "paid_online": bool(payload.get("paid_online", False)),
            "changed_at": message.created_at.isoformat(),
            # Inside each entry the portal's own names for a status code and an instant are reused.
            "status_history": [
                {
                    self.fields["status_code"]: entry.get("national_code"),
                    self.fields["changed_at"]: entry.get("at"),
                }
                for entry in payload.get("status_history", [])
                if entry.get("national_code") is not None
            ],
            "result_url": self._result_url(payload["code"], code),
            # A placeholder fact (false unless reception says otherwise), see docs/adapters.md.
            "vneid": bool(payload.get("vneid", False)),
        }
        return self.mapped_request(message, values)

    def _result_url(self, dossier_code: str, status_code: int) -> str | None:
        if self.result_url_base is None or status_code not in RESULT_CODES:
            return None
        return self.result_url_base + quote(dossier_code, safe="")
