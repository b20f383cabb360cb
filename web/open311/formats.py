"""GeoReport v2 bodies in its two formats: JSON arrays/objects and the XML the specification
shows. Both are built from the same Python values, so the formats cannot drift apart; XML is
built as a tree (never by concatenating text), so user data cannot break the document."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flask import Response
from lxml import etree

FORMATS = ("json", "xml")
MIMETYPES = {"json": "application/json", "xml": "text/xml"}


class GeoReportError(Exception):
    """An error answered in GeoReport format: `[{"code", "description"}]` with that HTTP status."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


def bad_request(field: str, problem: str) -> GeoReportError:
    """A 400 that names the field at fault first, so a client can tell its user what to fix."""
    return GeoReportError(400, f"{field}: {problem}")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise bad_request("response_format", "must be json or xml")
    return fmt


def plain(value: Any) -> Any:
    """Values as GeoReport writes them: instants in ISO 8601 with their offset."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def respond(fmt: str, body: Any, root: str, item: str, status: int = 200) -> Response:
    """`body` (a list of dicts, or one dict) as JSON, or as XML under <root> with one <item> per
    element of a list."""
    body = plain(body)
    if fmt == "xml":
        element = etree.Element(root)
        if isinstance(body, list):
            for entry in body:
                _fill(etree.SubElement(element, item), entry)
        else:
            _fill(element, body)
        text = etree.tostring(element, xml_declaration=True, encoding="utf-8")
        return Response(text, status=status, mimetype=MIMETYPES["xml"])
    text = json.dumps(body, ensure_ascii=False)
    return Response(text, status=status, mimetype=MIMETYPES["json"])


# How a list inside an XML element is spelled: <attributes><attribute>, <formats><format>, ...
_XML_LIST_ITEMS = {"attributes": "attribute", "values": "value", "formats": "format", "endpoints": "endpoint"}


def _fill(element: etree._Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _fill(etree.SubElement(element, key), child)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        tag = _XML_LIST_ITEMS.get(element.tag, "item")
        for child in value:
            _fill(etree.SubElement(element, tag), child)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def error_response(fmt: str, status: int, description: str) -> Response:
    body = [{"code": status, "description": description}]
    return respond(fmt if fmt in FORMATS else "json", body, "errors", "error", status)
