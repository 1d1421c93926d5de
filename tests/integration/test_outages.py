"""Storage outages: with PostgreSQL or the S3 endpoint stopped (connections refused) or hanging
(connections accepted, never answered), every request that needs it answers 503 with a JSON
error naming the component and a Retry-After header, within a bounded time; GET /health says
which component is down; when the component comes back the same server (no restart) works
again, nothing written during the outage is visible and every chain verifies.

The outage is made by a FaultyLink (tests/support/proxy.py) between Gonk and the real service.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gonk.api import create_app
from gonk.installation import Installation
from gonk.users import add_user
from gonk.verify import verify_dataset
from tests.support import postgres, s3
from tests.support.http import Client, b64
from tests.support.proxy import FaultyLink

# A hung request must give up within a few multiples of GONK_STORAGE_TIMEOUT (set to 1 s here);
# 40 s would mean a worker stuck on a dead connection, which is what these tests exist to catch.
STORAGE_TIMEOUT = 1
HUNG = 40.0


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """Gonk (in-process) on PostgreSQL or S3 reached through a FaultyLink; `request.param` is
    "database" or "blob store", the component behind the link."""
    monkeypatch.setenv("GONK_STORAGE_TIMEOUT", str(STORAGE_TIMEOUT))
    component = request.param
    database_url = blob_url = None
    created_database = None
    if component == "database":
        created_database = postgres.create_database()
        link = FaultyLink(_port(created_database))
        database_url = created_database.replace(f":{_port(created_database)}/",
                                                f":{link.port}/")
    else:
        endpoint = request.getfixturevalue("s3_server")
        bucket = s3.new_bucket(endpoint)
        link = FaultyLink(_port(endpoint))
        s3.use_s3_endpoint(monkeypatch, f"http://127.0.0.1:{link.port}")
        blob_url = f"s3://{bucket}/gonk"
    try:
        installation = Installation.create(tmp_path / "data", database_url, blob_url)
        app = create_app(installation=installation)
        alice = Client(app.test_client(), add_user(installation, "alice"), "alice")
        yield SimpleNamespace(link=link, installation=installation, alice=alice,
                              component=component)
        installation.close()
    finally:
        link.close()
        if created_database:
            postgres.drop_database(created_database)


def _populated(alice: Client) -> str:
    """A dataset with one accepted object; returns the object's uuid."""
    assert alice.post("/datasets", {"name": "birds"}).status_code == 200
    created = alice.post("/datasets/birds/objects",
                         {"name": "a.txt", "mimetype": "text/plain", "object": b64("hello")})
    assert created.status_code == 200, created.json
    events = alice.get("/datasets/birds/events").json
    assert alice.put(f"/datasets/birds/events/{events[-1]['uuid']}/accept").status_code == 200
    return created.json["uuid"]


def _timed(call: Any) -> tuple[Any, float]:
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


def _assert_unavailable(response: Any, component: str, took: float) -> None:
    assert response.status_code == 503, (response.status_code, response.get_data(as_text=True))
    assert response.json["component"] == component
    assert component in response.json["error"]
    assert int(response.headers["Retry-After"]) > 0
    assert took < HUNG, f"the request took {took:.1f} s: a worker would hang"


# Requests that need the database (all of them: the key is looked up there) or the blob store.
def _requests_needing(component: str, object_uuid: str) -> list[tuple[str, str, Any]]:
    upload = {"name": "b.txt", "mimetype": "text/plain", "object": b64("during the outage")}
    if component == "database":
        return [("GET", "/datasets", None), ("GET", "/datasets/birds/objects", None),
                ("POST", "/datasets/birds/objects", upload),
                ("GET", f"/datasets/birds/objects/{object_uuid}/0", None)]
    return [("POST", "/datasets/birds/objects", upload),
            ("GET", f"/datasets/birds/objects/{object_uuid}/0", None),
            ("GET", f"/datasets/birds/objects/{object_uuid}/0/bytes", None)]


@pytest.mark.parametrize("site", ["database", "blob store"], indirect=True)
@pytest.mark.parametrize("fault", ["refuse", "blackhole"])
def test_an_outage_is_503_and_the_server_recovers_by_itself(site: SimpleNamespace,
                                                           fault: str) -> None:
    alice, component = site.alice, site.component
    object_uuid = _populated(alice)
    events_before = alice.get("/datasets/birds/events").json

    getattr(site.link, fault)()
    for method, path, body in _requests_needing(component, object_uuid):
        response, took = _timed(lambda: alice.request(method, path, body))  # noqa: B023
        _assert_unavailable(response, component, took)
    health, took = _timed(lambda: alice.flask.get("/health"))
    assert health.status_code == 503
    assert took < HUNG
    key = component.replace(" ", "_")
    assert health.json[key] == "unavailable"
    assert health.json["status"] == "unavailable"
    other = "blob_store" if key == "database" else "database"
    assert health.json[other] == "ok"
    assert "Retry-After" in health.headers

    site.link.restore()
    assert alice.flask.get("/health").json == {"status": "ok", "database": "ok",
                                               "blob_store": "ok"}
    # nothing from the outage is visible: the refused upload left no event
    assert alice.get("/datasets/birds/events").json == events_before
    loaded = alice.get(f"/datasets/birds/objects/{object_uuid}/0")
    assert loaded.status_code == 200
    assert loaded.json["bytes"] == b64("hello")
    again = alice.post("/datasets/birds/objects", {"name": "c.txt", "mimetype": "text/plain",
                                                   "object": b64("after the outage")})
    assert again.status_code == 200, again.json
    assert verify_dataset(site.installation, "birds").ok


@pytest.mark.parametrize("site", ["database"], indirect=True)
def test_a_database_lost_mid_session_does_not_poison_the_pool(site: SimpleNamespace) -> None:
    """Connections pooled before the outage are dead after it: the first request after the
    database is back must not fail on one of them."""
    alice = site.alice
    _populated(alice)
    for _ in range(3):  # several pooled connections in use
        assert alice.get("/datasets/birds/objects").status_code == 200
    site.link.refuse()
    site.link.restore()
    for _ in range(5):
        response = alice.get("/datasets/birds/objects")
        assert response.status_code == 200, response.json


def test_health_needs_no_key_and_says_ok(alice: Client) -> None:
    response = alice.flask.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "blob_store": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("site", ["database"], indirect=True)
def test_a_command_hit_by_an_outage_says_so_in_one_line(site: SimpleNamespace, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`gonk-api verify` opens the installation, then the database goes away under it: one
    line, exit 1, no traceback."""
    from click.testing import CliRunner

    from gonk import cli, queries

    _populated(site.alice)
    all_datasets = queries.all_datasets

    def cut_then_list(installation: Installation) -> list[str]:
        site.link.refuse()  # after the command opened the installation, before it reads
        return all_datasets(installation)

    monkeypatch.setattr(queries, "all_datasets", cut_then_list)
    result = CliRunner().invoke(cli.main, ["verify", "--data-dir", str(tmp_path / "data"),
                                           "--database-url", site.installation.database_url])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: "), result.output
    assert "Traceback" not in result.output
