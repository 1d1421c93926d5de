"""Live servers for the client's tests: `site` is one `gonk-api run` on SQLite and local files
(users alice, the first owner, and bob), started once and shared by every test of tests/client
that asks for it (they run on one xdist worker: the "client" group), each working in a
dataset of its own. `client` and `bob_client` are gonk.Clients of it with a
cache of the test's own and quick retries; `requests_seen` counts what a client sent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

import gonk
from tests.support.storage import running_site


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    data = tmp_path_factory.mktemp("client-site") / "data"
    with running_site(data, "sqlite-files", request, ["alice", "bob"]) as running:
        yield running


def make_client(url: str, key: str, cache: Path) -> gonk.Client:
    return gonk.Client(url, key, cache=cache, backoff=0.01, retries=3)


@pytest.fixture
def client(site: SimpleNamespace, tmp_path: Path) -> Iterator[gonk.Client]:
    with make_client(site.base, site.keys[0], tmp_path / "cache") as made:
        yield made


@pytest.fixture
def bob_client(site: SimpleNamespace, tmp_path: Path) -> Iterator[gonk.Client]:
    with make_client(site.base, site.keys[1], tmp_path / "bob-cache") as made:
        yield made


@pytest.fixture
def ds(client: gonk.Client) -> gonk.Dataset:
    """A new dataset of alice's, named for this test."""
    return client.dataset(f"ds-{uuid.uuid4().hex[:12]}").create()


def requests_seen(client: gonk.Client) -> list[tuple[str, str]]:
    """From now on, every (method, path) the client sends, appended as answers arrive."""
    from urllib.parse import urlsplit

    seen: list[tuple[str, str]] = []

    def record(response, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((response.request.method, urlsplit(response.request.url).path))

    client.http.session.hooks["response"].append(record)
    return seen
