"""Talking to the API in-process: Flask's test client with an API key and JSON helpers (the
`alice` and `bob` fixtures of tests/conftest.py are Clients), `b64` for the base64 fields of
request bodies, and LABEL_SCHEMA, the schema most tests create."""

from __future__ import annotations

import base64
import json
from typing import Any


class Client:
    """Flask's test client with an API key and JSON helpers, as a seed client would use it."""

    def __init__(self, flask_client: Any, key: str, user: str) -> None:
        self.flask = flask_client
        self.key = key
        self.user = user

    def request(self, method: str, path: str, json_body: Any = None, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {"x-api-key": self.key})
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body)
            kwargs["content_type"] = "application/json"
        return self.flask.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


def b64(data: bytes | str | dict | list) -> str:
    if isinstance(data, (dict, list)):
        data = json.dumps(data)
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


LABEL_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {"label": {"type": "string"}},
    "required": ["label"],
}
