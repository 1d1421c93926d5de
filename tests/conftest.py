"""Shared fixtures: a fresh, initialised Gonk installation per test, with two users."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gonk_processes
import pytest
import rfc8785

from gonk.api import create_app
from gonk.instance import Instance
from gonk.users import add_user


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    inst = Instance.create(tmp_path / "data")
    yield inst
    inst.close()


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


@pytest.fixture
def app(instance: Instance) -> Any:
    application = create_app(instance=instance)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def alice(app: Any, instance: Instance) -> Client:
    """The first user; owner of the datasets she creates."""
    return Client(app.test_client(), add_user(instance, "alice"), "alice")


@pytest.fixture
def bob(app: Any, instance: Instance) -> Client:
    """A second user, not an owner unless a test makes him one."""
    return Client(app.test_client(), add_user(instance, "bob"), "bob")


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


@pytest.fixture(scope="session")
def gonk_proc() -> SimpleNamespace:
    """Helpers to run `gonk-api` commands and servers as real OS processes."""
    p = gonk_processes
    return SimpleNamespace(run_cli=p.run_cli, run_many=p.run_many, last_line=p.last_line,
                           start_server=p.start_server, clean_env=p.clean_env,
                           free_port=p.free_port, GONK_API=p.GONK_API)


def recompute_chain(events: list[dict[str, Any]]) -> str:
    """SPEC section 5, independently of Gonk's own code: sha256(previous raw digest +
    RFC 8785 bytes of the event without `integrity`). Returns the head; asserts every link."""
    previous = b""
    for event in events:
        body = {k: v for k, v in event.items() if k != "integrity"}
        digest = hashlib.sha256(previous + rfc8785.dumps(body)).digest()
        assert event["integrity"] == digest.hex(), f"chain broken at {event['uuid']}"
        previous = digest
    return previous.hex()
