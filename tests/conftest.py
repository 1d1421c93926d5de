"""Shared fixtures: a fresh, initialised Gonk installation per test, with two users."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.register_assert_rewrite("services", "postgres", "gonk_processes")

import gonk_processes
import postgres
import rfc8785
import services

from gonk.api import create_app
from gonk.instance import Instance
from gonk.storage import schema
from gonk.storage.blobs import BlobStore, open_blob_store
from gonk.users import add_user

pytest_plugins = ["services"]  # the s3_server fixture

# Every test that uses an installation (the `instance` fixture, hence the whole API suite, and
# the `storage` fixture of the end-to-end tests) runs once per storage combination.
STORAGE_KINDS = ["sqlite-files", "postgres-files", "sqlite-s3", "postgres-s3"]


@pytest.fixture(scope="session")
def postgres_api_database() -> Iterator[str]:
    """One PostgreSQL database for the API suite, with the schema; emptied before each test."""
    url = postgres.create_database()
    inst = Instance.create(Path("/nonexistent-unused"), url, "")
    inst.close()
    yield url
    postgres.drop_database(url)


@pytest.fixture(params=STORAGE_KINDS)
def storage_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def instance(tmp_path: Path, storage_kind: str, request: pytest.FixtureRequest,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Instance]:
    database_kind, blob_kind = storage_kind.split("-")
    blob_url = ""
    if blob_kind == "s3":
        blob_url = request.getfixturevalue("s3_blob_url")
    if database_kind == "postgres":
        url = request.getfixturevalue("postgres_api_database")
        postgres.empty_database(url)
        inst = Instance.open(tmp_path / "data", url, blob_url)
        inst.blobs.create()
    else:
        inst = Instance.create(tmp_path / "data", None, blob_url)
    assert schema.status(inst.db) == schema.CURRENT
    yield inst
    inst.close()


@pytest.fixture(scope="session")
def s3_api_bucket(s3_server: str) -> str:
    return services.new_bucket(s3_server)


@pytest.fixture
def s3_blob_url(s3_endpoint: str, s3_api_bucket: str) -> str:
    """A prefix of its own in the session's bucket, with boto3's AWS_* variables set."""
    return f"s3://{s3_api_bucket}/test-{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def process_storage(kind: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment for `gonk-api` processes on a fresh installation of `kind` (one of
    STORAGE_KINDS): a new PostgreSQL database and/or a new bucket when asked for; the database
    is dropped afterwards. The data directory still comes from --data-dir."""
    database_kind, blob_kind = kind.split("-")
    env: dict[str, str] = {}
    url = None
    if database_kind == "postgres":
        url = postgres.create_database()
        env["GONK_DATABASE_URL"] = url
    if blob_kind == "s3":
        endpoint = request.getfixturevalue("s3_server")
        env.update(services.s3_env(endpoint))
        env["GONK_BLOB_URL"] = f"s3://{services.new_bucket(endpoint)}/gonk"
    try:
        yield gonk_processes.clean_env(**env)
    finally:
        if url:
            postgres.drop_database(url)


@contextlib.contextmanager
def running_site(data_dir: Path, kind: str, request: pytest.FixtureRequest, users: Sequence[str],
                 command: str = "run", args: Sequence[str] = (),
                 **server_options: Any) -> Iterator[SimpleNamespace]:
    """A fresh installation of `kind` (process_storage) in `data_dir`: `init` with the first of
    `users`, `users add` for the others, then `gonk-api <command>` on a free port, stopped at
    the end. Yields server, base, host, data_dir, env, keys (in the order of `users`) and key
    (the first user's)."""
    first, *more = users
    with process_storage(kind, request) as env:
        keys = []
        for argv in (("init", "--username", first), *(("users", "add", name) for name in more)):
            done = gonk_processes.run_cli(*argv, data_dir=data_dir, env=env)
            assert done.returncode == 0, done.stderr
            keys.append(gonk_processes.last_line(done.stdout))
        server = gonk_processes.start_server(data_dir, keys[0], command, args, env=env,
                                             **server_options)
        try:
            yield SimpleNamespace(server=server, base=server.base, host=server.host,
                                  data_dir=data_dir, env=env, keys=keys, key=keys[0])
        finally:
            server.stop()


def installed_blobs(data_dir: Path, env: dict[str, str]) -> BlobStore:
    """The blob store of an installation made by `process_storage` (its environment `env`), for
    a test to look at what is stored: the data directory's files, or the S3 bucket."""
    url = env.get("GONK_BLOB_URL", "")
    if url.startswith("s3://"):
        from gonk.storage.s3blobs import S3BlobStore

        parts = urlsplit(url)
        return S3BlobStore(parts.netloc, parts.path.strip("/"),
                           client=services.s3_client(env["AWS_ENDPOINT_URL"]))
    return open_blob_store(url, data_dir)


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
