"""Shared fixtures: a fresh, initialised Gonk installation per test, with two users.

The helpers the tests share live in tests/support/ (see its __init__.py); the fixtures of the S3
server come from tests/support/s3.py, registered below as a plugin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

# pytest rewrites the asserts of test modules and conftest files only: the helpers' asserts
# explain their failures too if their package is registered before it is imported.
pytest.register_assert_rewrite("tests.support")

from gonk.api import create_app
from gonk.installation import Installation
from gonk.storage import revision
from gonk.users import add_user
from tests.support import postgres, processes, s3
from tests.support.http import Client
from tests.support.storage import IN_PROCESS_STORAGE_KINDS

pytest_plugins = ["tests.support.s3"]  # the s3_server, s3_endpoint and bucket fixtures


@pytest.fixture(scope="session")
def postgres_api_database() -> Iterator[str]:
    """One PostgreSQL database for the API suite, with the schema; emptied before each test."""
    url = postgres.create_database()
    inst = Installation.create(Path("/nonexistent-unused"), url, "")
    inst.close()
    yield url
    postgres.drop_database(url)


@pytest.fixture(params=IN_PROCESS_STORAGE_KINDS)
def storage_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def installation(tmp_path: Path, storage_kind: str, request: pytest.FixtureRequest,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Installation]:
    database_kind, blob_kind = storage_kind.split("-")
    blob_url = ""
    if blob_kind == "s3":
        blob_url = request.getfixturevalue("s3_blob_url")
    if database_kind == "postgres":
        url = request.getfixturevalue("postgres_api_database")
        postgres.empty_database(url)
        inst = Installation.open(tmp_path / "data", url, blob_url)
        inst.blobs.create()
    else:
        inst = Installation.create(tmp_path / "data", None, blob_url)
    assert revision.status(inst.db) == revision.CURRENT
    yield inst
    inst.close()


@pytest.fixture(scope="session")
def s3_api_bucket(s3_server: str) -> str:
    return s3.new_bucket(s3_server)


@pytest.fixture
def s3_blob_url(s3_endpoint: str, s3_api_bucket: str) -> str:
    """A prefix of its own in the session's bucket, with boto3's AWS_* variables set."""
    return f"s3://{s3_api_bucket}/test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def app(installation: Installation) -> Any:
    application = create_app(installation=installation)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def alice(app: Any, installation: Installation) -> Client:
    """The first user, an instance admin (as `gonk-api init` makes the first user); owner of
    the datasets she creates."""
    return Client(app.test_client(), add_user(installation, "alice", admin=True), "alice")


@pytest.fixture
def bob(app: Any, installation: Installation) -> Client:
    """A second user, not an owner unless a test makes him one."""
    return Client(app.test_client(), add_user(installation, "bob"), "bob")


@pytest.fixture(scope="session")
def gonk_proc() -> SimpleNamespace:
    """Helpers to run `gonk-api` commands and servers as real OS processes."""
    p = processes
    return SimpleNamespace(run_cli=p.run_cli, run_many=p.run_many, last_line=p.last_line,
                           start_server=p.start_server, clean_env=p.clean_env,
                           free_port=p.free_port, GONK_API=p.GONK_API)


# The slow parts first: pytest-xdist hands tests to its workers in collection order, so tests
# that start servers and processes (a few seconds to a minute each) go out at the start, and
# the thousands of short in-process tests fill the workers' gaps at the end instead of leaving
# one worker alone on a long test while the others wait.
_FIRST = ("tests/e2e/", "tests/fuzz/", "tests/web/", "tests/integration/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(_FIRST))  # (a stable sort)
