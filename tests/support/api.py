"""Helpers shared by the API tests: build datasets, schemas, objects and annotations through the
HTTP API (never behind its back), and check error responses the way a client relies on them.

The test modules of tests/api import what they use from here; the API suite's own fixtures
(`carol`, `ds`) are in tests/api/conftest.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from tests.support.http import LABEL_SCHEMA, Client, b64

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
DS = "ds"
ITEM_STATUSES = ["accepted", "pending", "deleted", "rejected"]
SCHEMA_STATUSES = ["accepted", "pending", "deprecated", "rejected"]

def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def assert_error(resp: Any, status: int, contains: str | None = None) -> dict[str, Any]:
    """The response has `status` and a JSON object body with a human "error" sentence, and
    no traceback or internal exception text."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:500])
    assert resp.mimetype == "application/json"
    body = json.loads(resp.get_data(as_text=True))
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"].strip(), body
    text = resp.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text, text
    if contains is not None:
        assert contains.lower() in body["error"].lower(), body
    return body


# --- building content through the API --------------------------------------------------------


def events(client: Client, dataset: str = DS) -> list[dict[str, Any]]:
    resp = client.get(f"/datasets/{dataset}/events?limit=1000")
    assert resp.status_code == 200, resp.json
    return resp.json


def create_schema(client: Client, name: str = "schema-label", schema: Any = None,
                  dataset: str = DS) -> dict[str, Any]:
    resp = client.post(f"/datasets/{dataset}/schemas",
                       {"name": name, "schema": b64(schema if schema is not None
                                                     else LABEL_SCHEMA)})
    assert resp.status_code == 200, resp.json
    return resp.json


def create_object(client: Client, data: bytes | str, name: str = "file.txt",
                  mimetype: str = "text/plain", dataset: str = DS) -> str:
    resp = client.post(f"/datasets/{dataset}/objects",
                       {"name": name, "mimetype": mimetype, "object": b64(data)})
    assert resp.status_code == 200, resp.json
    assert resp.json["version"] == 0
    return resp.json["uuid"]


def annotation_body(objects: list[tuple[str, int]], doc: Any = None,
                    schema: str = "schema-label", version: int = 0) -> dict[str, Any]:
    return {
        "schema": {"name": schema, "version": version},
        "object_identifiers": [{"uuid": u, "version": v} for u, v in objects],
        "annotation": b64(doc if doc is not None else {"label": "bird"}),
    }


def create_annotation(client: Client, objects: list[tuple[str, int]], doc: Any = None,
                      schema: str = "schema-label", version: int = 0,
                      dataset: str = DS) -> str:
    resp = client.post(f"/datasets/{dataset}/annotations",
                       annotation_body(objects, doc, schema, version))
    assert resp.status_code == 200, resp.json
    assert resp.json["version"] == 0
    return resp.json["uuid"]


def load_object(client: Client, item: str, version: int = 0, dataset: str = DS) -> Any:
    resp = client.get(f"/datasets/{dataset}/objects/{item}/{version}")
    assert resp.status_code == 200, resp.json
    return resp.json


def event_of(client: Client, kind: str, item: str, version: int, type_suffix: str = "",
             dataset: str = DS) -> str:
    """The uuid of the content event (create/update or delete) that touched a version, as the
    load endpoint reports it. `kind` is objects, annotations or schemas (item is then a name)."""
    resp = client.get(f"/datasets/{dataset}/{kind}/{item}/{version}")
    assert resp.status_code == 200, resp.json
    matching = [e for e in resp.json["events"]
                if e["review"] is not None and e["type"].endswith(type_suffix)]
    assert matching, resp.json["events"]
    return matching[-1]["uuid"]


def accept(client: Client, event_uuid: str, dataset: str = DS) -> None:
    resp = client.put(f"/datasets/{dataset}/events/{event_uuid}/accept")
    assert resp.status_code == 200, resp.json
    assert resp.json == {"uuid": event_uuid}


def reject(client: Client, event_uuid: str, dataset: str = DS) -> None:
    resp = client.put(f"/datasets/{dataset}/events/{event_uuid}/reject")
    assert resp.status_code == 200, resp.json
    assert resp.json == {"uuid": event_uuid}


def status_list(client: Client, base: str, status: str, query: str = "") -> Any:
    """GET <base>/<status><query>, asserting 200."""
    resp = client.get(f"{base}/{status}{query}")
    assert resp.status_code == 200, resp.json
    return resp.json


def statuses_of(client: Client, base: str, uuid: str, version: int) -> set[str]:
    """Every status list of an object or annotation base path that holds this version."""
    return {s for s in ITEM_STATUSES
            if {"uuid": uuid, "version": version} in status_list(client, base, s, "?limit=1000")}
