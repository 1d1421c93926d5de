"""Exactly once under concurrency (issue 16, point 7): 32 claimers racing for 1,000 objects
against `gonk-api serve` with several worker processes, on SQLite + files and on PostgreSQL +
S3, get 1,000 distinct objects and not one error; then the queue is empty for everyone.

The short version of bench/work_queue.py's load run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from tests.support.http import LABEL_SCHEMA, b64
from tests.support.storage import running_site

OBJECTS = 1000
CLAIMERS = 32
TIMEOUT = 120


@pytest.fixture(params=["sqlite-files", "postgres-s3"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[SimpleNamespace]:
    with running_site(tmp_path_factory.mktemp("queue") / "data", request.param, request,
                      ["alice"], "serve", ["--workers", "4", "--access-log", ""]) as served:
        yield served


def _call(session: requests.Session, site: SimpleNamespace, method: str, path: str,
          **kwargs: Any) -> Any:
    answer = session.request(method, site.base + path, timeout=TIMEOUT, **kwargs)
    assert answer.status_code == 200, (method, path, answer.status_code, answer.text[:300])
    return answer.json()


def _fill(site: SimpleNamespace) -> list[str]:
    """A dataset with schema-label and OBJECTS accepted objects; their uuids."""
    with requests.Session() as s:
        s.headers["x-api-key"] = site.key
        _call(s, site, "POST", "/datasets", json={"name": "work"})
        _call(s, site, "POST", "/datasets/work/schemas",
              json={"name": "schema-label", "schema": b64(LABEL_SCHEMA)})
        made = []
        for start in range(0, OBJECTS, 100):  # (each request well within the timeout on S3)
            made += _call(s, site, "POST", "/datasets/work/objects", files=[
                ("file", (f"item-{i:04d}.txt", f"item {i}".encode(), "text/plain"))
                for i in range(start, start + 100)])["objects"]
        while True:  # a page of the pending events at a time: accepted ones leave the list
            pending = _call(s, site, "GET", "/datasets/work/events",
                            params={"pending": "true", "limit": 1000})
            if not pending:
                break
            for event in pending:
                _call(s, site, "PUT", f"/datasets/work/events/{event['uuid']}/accept")
    return [m["uuid"] for m in made]


def test_32_claimers_get_1000_distinct_objects_and_no_error(site: SimpleNamespace) -> None:
    objects = _fill(site)
    claimed: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLAIMERS)

    def claimer() -> None:
        with requests.Session() as s:
            s.headers["x-api-key"] = site.key
            start.wait()
            while True:
                try:
                    answer = s.post(f"{site.base}/datasets/work/queue/claim", timeout=TIMEOUT,
                                    json={"task": "annotate", "schema": "schema-label"})
                except requests.RequestException as exc:
                    with lock:
                        errors.append(repr(exc))
                    return
                if answer.status_code != 200:
                    with lock:
                        errors.append(f"{answer.status_code} {answer.text[:200]}")
                    return
                body = answer.json()
                if body["lease"] is None:
                    return
                with lock:
                    claimed.append(body["item"]["object"]["uuid"])

    threads = [threading.Thread(target=claimer) for _ in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(claimed) == OBJECTS and sorted(claimed) == sorted(objects)  # each exactly once
    with requests.Session() as s:
        s.headers["x-api-key"] = site.key
        report = _call(s, site, "GET", "/datasets/work/queue",
                       params={"schema": "schema-label"})
    assert report["annotate"] == {"schema": "schema-label", "left": 0, "leased": OBJECTS}
