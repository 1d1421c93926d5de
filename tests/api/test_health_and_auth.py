"""GET /health (readiness, no key) and the two ways to send an API key: x-api-key and
Authorization: Bearer."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from gonk.installation import Installation
from tests.support.http import Client, b64


def test_health_answers_without_a_key(alice: Client) -> None:
    response = alice.flask.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "blob_store": "ok"}


def test_health_ignores_a_wrong_key(alice: Client) -> None:
    response = alice.flask.get("/health", headers={"x-api-key": "not-a-key"})
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_health_takes_only_get(alice: Client) -> None:
    response = alice.flask.post("/health")
    assert response.status_code == 405
    assert "GET" in response.json["error"]


def _take_away_the_blob_store(installation: Installation) -> Callable[[], None]:
    """Remove the blob directory (files), or point the store at a bucket that does not exist
    (S3: the test session's bucket is shared); returns how to put it back."""
    store = installation.blobs
    root = getattr(store, "root", None)
    if root is not None:
        moved = root.with_name(root.name + "-moved")
        root.rename(moved)
        return lambda: moved.rename(root)
    bucket = store.bucket  # type: ignore[attr-defined]
    store.bucket = f"no-such-bucket-{uuid.uuid4().hex[:12]}"  # type: ignore[attr-defined]
    return lambda: setattr(store, "bucket", bucket)


def test_a_blob_store_gone_is_503_everywhere_and_never_made_anew(
        alice: Client, installation: Installation) -> None:
    """The blob directory renamed (an unmounted volume) or the bucket gone: /health, writes and
    reads of bytes answer 503 naming the blob store; nothing is written meanwhile (a blob
    directory is not created afresh, which would hide blobs written during the outage once the
    real one is back); all works again when it is back."""
    assert alice.post("/datasets", {"name": "birds"}).status_code == 200
    created = alice.post("/datasets/birds/objects", {"name": "a.txt", "mimetype": "text/plain",
                                                     "object": b64("before")})
    assert created.status_code == 200
    stored = f"/datasets/birds/objects/{created.json['uuid']}/0"
    events_before = alice.get("/datasets/birds/events").json
    root = getattr(installation.blobs, "root", None)
    put_back = _take_away_the_blob_store(installation)
    try:
        response = alice.flask.get("/health")
        assert response.status_code == 503
        assert response.json["status"] == "unavailable"
        assert response.json["blob_store"] == "unavailable"
        assert response.json["database"] == "ok"
        assert "blob store" in response.json["error"]
        assert int(response.headers["Retry-After"]) > 0
        for write in (
                lambda: alice.post("/datasets/birds/objects", {
                    "name": "b.txt", "mimetype": "text/plain", "object": b64("during")}),
                lambda: alice.request("POST", "/datasets/birds/objects?name=c.txt",
                                      data=b"raw, during", headers={
                                          "x-api-key": alice.key, "Content-Type": "text/plain"}),
                lambda: alice.get(stored),
                lambda: alice.get(f"{stored}/bytes")):
            refused = write()
            assert refused.status_code == 503, refused.get_data(as_text=True)
            assert refused.json["component"] == "blob store"
        if root is not None:
            assert not root.exists()
    finally:
        put_back()
    assert alice.flask.get("/health").status_code == 200
    assert alice.get("/datasets/birds/events").json == events_before
    assert alice.get(f"{stored}/bytes").get_data() == b"before"


@pytest.mark.parametrize("header", ["Bearer {key}", "bearer {key}", "BEARER  {key} "])
def test_bearer_authorization_works_like_x_api_key(alice: Client, header: str) -> None:
    headers = {"Authorization": header.format(key=alice.key)}
    created = alice.request("POST", "/datasets", {"name": "birds"}, headers=headers)
    assert created.status_code == 200, created.json
    assert alice.request("GET", "/datasets/birds/owners", headers=headers).json == ["alice"]


def test_a_wrong_bearer_key_is_401(alice: Client) -> None:
    response = alice.request("GET", "/datasets", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json == {"error": "Unknown API key."}


@pytest.mark.parametrize("header", ["Basic YWxpY2U6eA==", "Bearer", "Bearer   ", "x"])
def test_other_authorization_headers_are_no_key(alice: Client, header: str) -> None:
    response = alice.request("GET", "/datasets", headers={"Authorization": header})
    assert response.status_code == 401
    assert "Missing API key" in response.json["error"]
    assert "Bearer" in response.json["error"]


def test_x_api_key_wins_over_authorization(alice: Client, bob: Client) -> None:
    alice.post("/datasets", {"name": "birds"})
    headers = {"x-api-key": bob.key, "Authorization": f"Bearer {alice.key}"}
    # bob is not an owner: adding an owner as bob is refused, so bob's key was used
    response = alice.request("PUT", "/datasets/birds/owners/bob", headers=headers)
    assert response.status_code == 403
    assert alice.get("/datasets/birds/owners").json == ["alice"]
