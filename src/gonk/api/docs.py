"""GET /openapi.json (the OpenAPI 3.1 document of api/openapi.py) and GET /docs (that document
rendered as one HTML page on the server: a Jinja template and a stylesheet of this package,
inlined, so the reference needs nothing from elsewhere and works offline). No key needed."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from markupsafe import Markup, escape

from . import openapi

bp = Blueprint("docs", __name__, template_folder="templates")

METHODS = ("get", "put", "post", "patch", "delete")


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The document, with `servers` naming this application's root as the client reached it
    (so a client behind a reverse proxy's prefix gets the right base URL)."""
    response = jsonify(openapi.document(server_url=request.script_root or "/"))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/docs")
def reference() -> Response:
    response = Response(_rendered(), mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@functools.cache
def _rendered() -> str:
    doc = openapi.document()
    return render_template("gonk-docs.html", doc=doc, operations=_operations(doc),
                           schemas=[(name, _node(doc, schema)) for name, schema
                                    in doc["components"]["schemas"].items()],
                           responses=doc["components"]["responses"],
                           security=doc["components"]["securitySchemes"], code=_code)


BACKTICKS = re.compile(r"`([^`]+)`")


def _code(text: str) -> Markup:
    """A description's text, escaped, with its `backticked` words as <code>."""
    return Markup(BACKTICKS.sub(r"<code>\1</code>", str(escape(text))))


# --- the document, made ready to render ---------------------------------------------------------


def _resolve(doc: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """A component that `item` refers to (`$ref`), or `item` itself."""
    ref = item.get("$ref")
    if not isinstance(ref, str):
        return item
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _node(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema as the template draws it: a reference (a link to its component), an object (its
    fields), an array (its items), a choice (anyOf), or a scalar with its constraints."""
    name = _ref_name(schema)
    if name is not None:
        return {"kind": "ref", "name": name}
    description = schema.get("description", "")
    if "anyOf" in schema:
        return {"kind": "any", "options": [_node(doc, s) for s in schema["anyOf"]],
                "description": description}
    if schema.get("type") == "object" and "properties" in schema:
        required = set(schema.get("required", []))
        return {"kind": "object", "description": description,
                "open": schema.get("additionalProperties", True) is not False,
                "fields": [{"name": key, "required": key in required,
                            "schema": _node(doc, value)}
                           for key, value in schema["properties"].items()]}
    if schema.get("type") == "array":
        return {"kind": "array", "items": _node(doc, schema.get("items", {})),
                "description": description, "constraints": _constraints(schema)}
    return {"kind": "scalar", "text": _scalar(schema), "description": description,
            "constraints": _constraints(schema)}


def _scalar(schema: dict[str, Any]) -> str:
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    kind = schema.get("type", "any")
    text = " or ".join(kind) if isinstance(kind, list) else kind
    for key in ("format", "contentEncoding", "contentMediaType"):
        if key in schema:
            text += f" ({schema[key]})"
    return text


CONSTRAINTS = (("minimum", "≥ {}"), ("maximum", "≤ {}"), ("minLength", "length ≥ {}"),
               ("maxLength", "length ≤ {}"), ("minItems", "≥ {} items"),
               ("maxItems", "≤ {} items"), ("pattern", "matches {}"), ("default", "default {}"))


def _constraints(schema: dict[str, Any]) -> str:
    found = [template.format(json.dumps(schema[key]) if key == "default" else schema[key])
             for key, template in CONSTRAINTS if key in schema]
    if "pattern" in schema.get("not", {}):
        found.append(f"not matching {schema['not']['pattern']}")
    if "example" in schema:
        found.append(f"example {json.dumps(schema['example'])}")
    return ", ".join(found)


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation, grouped by tag in the order of the document's tags."""
    groups: dict[str, list[dict[str, Any]]] = {tag["name"]: [] for tag in doc["tags"]}
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            groups.setdefault(op["tags"][0], []).append({
                "method": method.upper(), "path": path, "id": op["operationId"],
                "summary": op["summary"], "description": op.get("description", ""),
                "public": op.get("security") == [],
                "parameters": [_parameter(doc, p) for p in op.get("parameters", [])],
                "body": _body(doc, op.get("requestBody")),
                "responses": [_response(doc, status, r)
                              for status, r in op["responses"].items()],
            })
    return [{"tag": tag["name"], "description": tag.get("description", ""),
             "operations": groups[tag["name"]]} for tag in doc["tags"] if groups[tag["name"]]]


def _parameter(doc: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    param = _resolve(doc, item)
    description = param.get("description", "")
    if "example" in param:
        description += f" Example: `{param['example']}`."
    return {"name": param["name"], "in": param["in"], "required": param.get("required", False),
            "description": description, "schema": _node(doc, param["schema"])}


def _body(doc: dict[str, Any], body: dict[str, Any] | None) -> dict[str, Any] | None:
    if body is None:
        return None
    return {"description": body.get("description", ""), "required": body.get("required", False),
            "content": [(media, _node(doc, spec.get("schema", {})))
                        for media, spec in body["content"].items()]}


def _response(doc: dict[str, Any], status: str, item: dict[str, Any]) -> dict[str, Any]:
    response = _resolve(doc, item)
    return {"status": status, "component": _ref_name(item),
            "description": response.get("description", ""),
            "content": [(media, _node(doc, spec.get("schema", {})))
                        for media, spec in response.get("content", {}).items()],
            "headers": [(name, header.get("required", False), _node(doc, header["schema"]))
                        for name, header in response.get("headers", {}).items()],
            "links": [(name, link["operationId"]) for name, link
                      in response.get("links", {}).items()]}
