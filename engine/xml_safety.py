"""Hardened XML reading for BPMN and DMN files.

No DTD, no entities, no network: a BPMN file comes from a designer's upload, so it is treated as
hostile. Documents with a DOCTYPE are refused outright, which stops XXE and billion-laughs before
the parser sees them. Only UTF-8 is accepted: the DOCTYPE scan reads bytes, so a UTF-16 document
would slip past it, and a deployed file is stored as UTF-8 text."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

from lxml import etree

from .errors import Problem

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_UTF8_NAMES = {"utf-8", "utf8"}


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
    encoding_problem = _encoding_problem(content, filename)
    if encoding_problem is not None:
        return None, [encoding_problem]
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
        if "Excessive depth" in err.msg:
            return None, [
                Problem(filename, line, "", "elements are nested too deeply (more than 256 levels)")
            ]
        # libxml2 quotes offending names and values; a hostile file can make those huge.
        return None, [Problem(filename, line, "", f"not well-formed XML: {err.msg[:300]}")]
    return root, []


def _encoding_problem(content: bytes, filename: str) -> Problem | None:
    """Refuse anything but UTF-8. A declared legacy encoding is tolerated when the bytes are plain
    ASCII, since they then read the same in both."""
    nul = content.find(b"\0")
    if nul >= 0:
        line = content.count(b"\n", 0, nul) + 1
        return Problem(filename, line, "", "file contains NUL bytes (UTF-16?); save it as UTF-8")
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as err:
        line = content.count(b"\n", 0, err.start) + 1
        return Problem(
            filename, line, "", f"file is not UTF-8 (byte 0x{content[err.start]:02x}); save it as UTF-8"
        )
    declared = _DECLARED_ENCODING.match(content)
    if declared:
        name = declared.group(1).decode("ascii", "replace").strip()
        if name.lower() not in _UTF8_NAMES and not content.isascii():
            return Problem(filename, 1, "", f"file declares encoding {name[:40]!r}; save it as UTF-8")
    return None


def element_id_at(root: etree._Element, line: int) -> str:
    """The id of the innermost element that starts on `line` (XSD errors only give a line)."""
    return element_ids_by_line(root)(line)


def element_ids_by_line(root: etree._Element) -> Callable[[int], str]:
    """A lookup from a line to the id of the innermost element starting on it, or else of the last
    element with an id starting before it. Built once per file: a hostile file can produce tens of
    thousands of schema errors, and a scan of the tree for each would take minutes."""
    on_line: dict[int, str] = {}
    starts: list[int] = []
    ids: list[str] = []
    for el in root.iter():
        element_id = el.get("id") if isinstance(el.tag, str) else None
        if element_id and el.sourceline:
            on_line[el.sourceline] = element_id  # document order: the innermost comes last
            starts.append(el.sourceline)
            ids.append(element_id)

    def lookup(line: int) -> str:
        if line in on_line:
            return on_line[line]
        index = bisect.bisect_right(starts, line)
        return ids[index - 1] if index else ""

    return lookup
