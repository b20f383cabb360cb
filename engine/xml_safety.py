"""Hardened XML reading for BPMN and DMN files.

No DTD, no entities, no network: a BPMN file comes from a designer's upload, so it is treated as
hostile. Documents with a DOCTYPE are refused outright, which stops XXE and billion-laughs before
the parser sees them."""

from __future__ import annotations

import re

from lxml import etree

from .errors import Problem

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_xml(content: bytes, filename: str, max_bytes: int) -> tuple[etree._Element | None, list[Problem]]:
    """Parse `content`; on failure return (None, problems) naming the line."""
    if len(content) > max_bytes:
        return None, [Problem(filename, 1, "", f"file is {len(content)} bytes; the limit is {max_bytes}")]
    match = _DOCTYPE.search(content)
    if match:
        line = content.count(b"\n", 0, match.start()) + 1
        return None, [
            Problem(filename, line, "", "DOCTYPE/ENTITY declarations are not allowed (XXE protection)")
        ]
    try:
        root = etree.fromstring(content, safe_parser())
    except etree.XMLSyntaxError as err:
        line = err.lineno or 1
        return None, [Problem(filename, line, "", f"not well-formed XML: {err.msg}")]
    return root, []


def element_id_at(root: etree._Element, line: int) -> str:
    """The id of the innermost element that starts on `line` (XSD errors only give a line)."""
    found = ""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.sourceline == line and el.get("id"):
            found = el.get("id")
        elif el.sourceline and el.sourceline > line:
            break
    if found:
        return found
    for el in root.iter():
        if isinstance(el.tag, str) and el.sourceline and el.sourceline <= line and el.get("id"):
            found = el.get("id")
    return found
