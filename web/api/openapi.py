"""The API's OpenAPI document: its canonical text (the committed docs/openapi.json) and the digest
of it the reference page renders.

Regenerate the committed copy after changing an endpoint or a schema:

    python -m web.api.openapi > docs/openapi.json
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask
from markupsafe import Markup, escape

REGENERATE = "python -m web.api.openapi > docs/openapi.json"
COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")


def prose(text: str) -> Markup:
    """Description text as HTML: paragraphs kept, hard line wraps joined, `code` in monospace."""
    paragraphs = [" ".join(line.strip() for line in part.splitlines()) for part in text.strip().split("\n\n")]
    html = "".join(f"<p>{escape(p)}</p>" for p in paragraphs if p)
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", html))


def spec_of(app: Flask) -> dict[str, Any]:
    return app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()


def spec_text(app: Flask) -> str:
    """The document as committed: sorted keys, indent 2, Vietnamese unescaped, final newline."""
    return json.dumps(spec_of(app), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The operations grouped by tag, in the document's tag order, ready for a template."""
    groups = [
        {"name": t["name"], "description": prose(t.get("description", "")), "operations": []}
        for t in spec["tags"]
    ]
    by_name = {g["name"]: g for g in groups}
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            entry = {
                "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                "method": method.upper(),
                "path": path,
                "summary": op.get("summary", ""),
                "description": prose(op.get("description", "")),
                "secured": bool(op.get("security")),
                "parameters": [
                    {
                        "name": p["name"],
                        "in": p["in"],
                        "required": p.get("required", False),
                        "type": type_of(p.get("schema", {})),
                        "description": prose(p.get("description", "")),
                    }
                    for p in [*shared, *op.get("parameters", [])]
                ],
                "body": type_of(body) if body else "",
                "responses": [
                    {
                        "status": status,
                        "description": prose(_response(spec, r).get("description", "")),
                        "type": _body(spec, r),
                    }
                    for status, r in sorted(op.get("responses", {}).items())
                ],
            }
            for tag in op.get("tags", []):
                by_name[tag]["operations"].append(entry)
    return groups


def schemas(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every schema of the document with its properties, by name."""
    out = []
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        out.append(
            {
                "name": name,
                "properties": [
                    {
                        "name": prop,
                        "type": type_of(value),
                        "required": prop in required,
                        "description": prose(value.get("description", "")),
                    }
                    for prop, value in schema.get("properties", {}).items()
                ],
            }
        )
    return out


def type_of(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("allOf"):
        return " & ".join(type_of(s) for s in schema["allOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        text = f"array of {type_of(schema.get('items', {}))}"
    elif (
        kind == "object"
        and "additionalProperties" in schema
        and schema["additionalProperties"] not in ({}, True)
    ):
        text = f"object of {type_of(schema['additionalProperties'])}"
    else:
        text = kind + (f" ({schema['format']})" if "format" in schema else "")
    if "enum" in schema:
        text += ": " + " | ".join(str(v) for v in schema["enum"] if v is not None)
    if schema.get("nullable"):
        text += ", nullable"
    return text


def _response(spec: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in response:
        return spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


def _body(spec: dict[str, Any], response: dict[str, Any]) -> str:
    schema = _response(spec, response).get("content", {}).get("application/json", {}).get("schema")
    return type_of(schema) if schema else ""


def main() -> None:
    """Print the document of an app built on a throw-away home: nothing is read or written."""
    from engine.config import Settings
    from engine.motcua import Motcua
    from web.app import create_app

    with tempfile.TemporaryDirectory() as home:
        motcua = Motcua(replace(Settings(), home=Path(home)), database_url="sqlite://")
        app = create_app(motcua, {"TESTING": True})
        sys.stdout.write(spec_text(app))
        motcua.db.dispose()


if __name__ == "__main__":
    main()
