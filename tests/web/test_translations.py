"""Vietnamese is the first language: every UI string has a Vietnamese translation, and the
blueprints' catalogues (merged into one domain at run time) never disagree about a string."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "web"
# _("…") and gettext("…") with a plain string literal (single or double quotes).
MSGID = re.compile(
    r"""(?:\b_|\bgettext|\blazy_gettext)\(\s*(?P<q>["'])(?P<text>(?:\\.|(?!(?P=q)).)*)(?P=q)"""
)


def catalogues() -> dict[Path, dict[str, str]]:
    out: dict[Path, dict[str, str]] = {}
    for path in sorted(WEB.glob("**/translations/vi/LC_MESSAGES/*.po")):
        with path.open("rb") as handle:
            catalog = read_po(handle)
        out[path] = {m.id: m.string for m in catalog if m.id and isinstance(m.id, str)}
    return out


def used_msgids() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in list(WEB.glob("**/*.html")) + list(WEB.glob("**/*.py")):
        for match in MSGID.finditer(path.read_text(encoding="utf-8")):
            text = match.group("text").replace("\\'", "'").replace('\\"', '"')
            found.setdefault(text, path)
    return found


def test_catalogues_agree_on_every_string():
    seen: dict[str, tuple[str, Path]] = {}
    clashes = []
    for path, entries in catalogues().items():
        for msgid, msgstr in entries.items():
            if msgid in seen and seen[msgid][0] != msgstr:
                clashes.append(
                    f"{msgid!r}: {seen[msgid][1].parent.parent.parent.parent.name} says "
                    f"{seen[msgid][0]!r}, {path.parent.parent.parent.parent.name} says {msgstr!r}"
                )
            seen.setdefault(msgid, (msgstr, path))
    assert clashes == [], "\n".join(clashes)


def test_every_ui_string_has_a_vietnamese_translation():
    translated = {msgid for entries in catalogues().values() for msgid, msgstr in entries.items() if msgstr}
    missing = sorted(
        f"{path.relative_to(WEB)}: {text!r}" for text, path in used_msgids().items() if text not in translated
    )
    assert missing == [], "untranslated:\n" + "\n".join(missing)
