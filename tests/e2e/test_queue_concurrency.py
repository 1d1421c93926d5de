"""Exactly once under concurrency (issue 16, point 7): 32 claimers racing for 1,000 objects
against `gonk-api serve` with several worker processes, on SQLite and on PostgreSQL (local
files for the bytes), get 1,000 distinct objects and not one error; then the queue is empty
for everyone. Then they give half back while claiming again: each object given back is handed
out once more. The 2,000 appends that fill the queue, by 8 sessions through the workers, keep
one Merkle tree: the signed checkpoint's root is the one computed from the events (issue 17).

The short version of bench/work_queue.py's load run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from gonk.client.log_proofs import VerifierKey, event_leaf_hash
from tests.support.chain import merkle_root, recompute_chain
from tests.support.http import LABEL_SCHEMA, b64
from tests.support.storage import running_site

OBJECTS = 1000
CLAIMERS = 32
TIMEOUT = 120


# (on local files: the queue is all database, and 1,000 uploads to moto's S3 server cost the
# suite more time than every claim of the test)
@pytest.fixture(params=["sqlite-files", "postgres-files"])
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
    """A dataset with schema-label and OBJECTS accepted objects; their uuids. Uploaded and
    accepted by 8 sessions at once (accepting 1,000 changes one after the other took a minute
    on PostgreSQL + S3)."""
    with requests.Session() as s:
        s.headers["x-api-key"] = site.key
        _call(s, site, "POST", "/datasets", json={"name": "work"})
        _call(s, site, "POST", "/datasets/work/schemas",
              json={"name": "schema-label", "schema": b64(LABEL_SCHEMA)})

    def in_parallel(calls: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
        local = threading.local()

        def run(call: tuple[str, str, dict[str, Any]]) -> Any:
            if not hasattr(local, "session"):
                local.session = requests.Session()
                local.session.headers["x-api-key"] = site.key
            method, path, kwargs = call
            return _call(local.session, site, method, path, **kwargs)

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(run, calls))

    uploads = in_parallel([("POST", "/datasets/work/objects", {"files": [
        ("file", (f"item-{i:04d}.txt", f"item {i}".encode(), "text/plain"))
        for i in range(start, start + 50)]}) for start in range(0, OBJECTS, 50)])
    made = [m["uuid"] for answer in uploads for m in answer["objects"]]
    with requests.Session() as s:
        s.headers["x-api-key"] = site.key
        pending: list[dict[str, Any]] = []
        while page := _call(s, site, "GET", "/datasets/work/events", params={
                "pending": "true", "limit": 1000,
                **({"after": pending[-1]["uuid"]} if pending else {})}):
            pending += page
    assert len(pending) == OBJECTS + 1  # the schema and the objects
    in_parallel([("PUT", f"/datasets/work/events/{event['uuid']}/accept", {})
                 for event in pending])
    _assert_one_tree(site)
    return made


def _assert_one_tree(site: SimpleNamespace) -> None:
    """The 2,000 appends of 8 sessions through 4 worker processes built one Merkle tree: the
    signed checkpoint holds the root computed here from the events (issue 17)."""
    with requests.Session() as s:
        s.headers["x-api-key"] = site.key
        log: list[dict[str, Any]] = []
        while page := _call(s, site, "GET", "/datasets/work/events", params={
                "limit": 1000, **({"after": log[-1]["uuid"]} if log else {})}):
            log += page
        key = VerifierKey.parse(s.get(f"{site.base}/log-key", timeout=TIMEOUT).text)
        checkpoint = key.open_checkpoint(s.get(f"{site.base}/datasets/work/checkpoint",
                                               timeout=TIMEOUT).text)
    recompute_chain(log)
    assert (checkpoint.size, checkpoint.root) == (
        len(log), merkle_root([event_leaf_hash(e) for e in log]))


def _claim(s: requests.Session, site: SimpleNamespace, errors: list[str],
           lock: threading.Lock) -> dict[str, Any] | None:
    """One claim: the answer's body, or None after recording an error."""
    try:
        answer = s.post(f"{site.base}/datasets/work/queue/claim", timeout=TIMEOUT,
                        json={"task": "annotate", "schema": "schema-label"})
    except requests.RequestException as exc:
        with lock:
            errors.append(repr(exc))
        return None
    if answer.status_code != 200:
        with lock:
            errors.append(f"{answer.status_code} {answer.text[:200]}")
        return None
    body: dict[str, Any] = answer.json()
    return body


def _race(site: SimpleNamespace, work: Any) -> list[str]:
    """CLAIMERS threads, each with its own session, started together on `work(session)`;
    the errors they met."""
    errors: list[str] = []
    start = threading.Barrier(CLAIMERS)

    def run(index: int) -> None:
        with requests.Session() as s:
            s.headers["x-api-key"] = site.key
            start.wait()
            work(index, s, errors)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_32_claimers_get_1000_distinct_objects_and_no_error(site: SimpleNamespace) -> None:
    objects = _fill(site)
    held: list[list[tuple[str, str]]] = [[] for _ in range(CLAIMERS)]  # (object, lease) each
    lock = threading.Lock()

    def claim_all(index: int, s: requests.Session, errors: list[str]) -> None:
        while (body := _claim(s, site, errors, lock)) is not None and body["lease"] is not None:
            held[index].append((body["item"]["object"]["uuid"], body["lease"]["id"]))

    assert _race(site, claim_all) == []
    claimed = [obj for mine in held for obj, _ in mine]
    assert len(claimed) == OBJECTS and sorted(claimed) == sorted(objects)  # each exactly once
    with requests.Session() as s:
        s.headers["x-api-key"] = site.key
        report = _call(s, site, "GET", "/datasets/work/queue",
                       params={"schema": "schema-label"})
    assert report["annotate"] == {"schema": "schema-label", "left": 0, "leased": OBJECTS}

    # Then every claimer gives back half of what it holds, one lease at a time, claiming again
    # after each: give-backs (which lower the queue's floor) race claims (which raise it). Every
    # object given back must be handed out again exactly once, none lost below the floor.
    given_back = {obj for mine in held for obj, _ in mine[::2]}
    again: list[str] = []

    def give_back_and_claim(index: int, s: requests.Session, errors: list[str]) -> None:
        for _, lease in held[index][::2]:
            answer = s.delete(f"{site.base}/datasets/work/queue/leases/{lease}", timeout=TIMEOUT)
            if answer.status_code != 200:
                with lock:
                    errors.append(f"give back: {answer.status_code} {answer.text[:200]}")
                return
            body = _claim(s, site, errors, lock)
            if body is None:
                return
            if body["lease"] is not None:
                with lock:
                    again.append(body["item"]["object"]["uuid"])

    assert _race(site, give_back_and_claim) == []
    with requests.Session() as s:  # what the race left unclaimed, claimed one by one
        s.headers["x-api-key"] = site.key
        while (body := _call(s, site, "POST", "/datasets/work/queue/claim",
                             json={"task": "annotate", "schema": "schema-label"}))["lease"]:
            again.append(body["item"]["object"]["uuid"])
    assert len(again) == len(given_back) and set(again) == given_back
