"""Every query the API runs uses an index that narrows it to the rows it needs.

No timing here: SQLite's own EXPLAIN QUERY PLAN for each statement the API executed while serving
a mixed workload. A plan that scans a table, or only narrows by dataset (a walk over the whole
dataset), would make requests slower as datasets grow.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from gonk.storage.prepared import _Compiled
from tests.support.http import LABEL_SCHEMA, b64


@pytest.fixture
def storage_kind() -> str:
    """SQLite's query plans: this module checks SQLite's EXPLAIN QUERY PLAN only."""
    return "sqlite-files"



def _workload(alice) -> None:
    assert alice.post("/datasets", {"name": "ds"}).status_code == 200
    schema = alice.post("/datasets/ds/schemas", {"name": "schema-label",
                                                 "schema": b64(LABEL_SCHEMA)}).get_json()
    objects = []
    for i in range(5):
        resp = alice.post("/datasets/ds/objects",
                          {"name": f"{i}.txt", "mimetype": "text/plain", "object": b64(f"o{i}")})
        objects.append(resp.get_json()["uuid"])
    raw = alice.request("POST", "/datasets/ds/objects?name=r.bin", data=b"raw",
                        content_type="application/octet-stream").get_json()["uuid"]
    alice.patch(f"/datasets/ds/objects/{objects[0]}",
                {"name": "0.txt", "mimetype": "text/plain", "object": b64("o0 v1")})
    ann = alice.post("/datasets/ds/annotations", {
        "schema": {"name": "schema-label", "version": 0},
        "object_identifiers": [{"uuid": objects[1], "version": 0},
                               {"uuid": objects[2], "version": 0}],
        "annotation": b64({"label": "bird"})}).get_json()["uuid"]
    alice.patch(f"/datasets/ds/annotations/{ann}", {
        "schema": {"name": "schema-label", "version": 0}, "annotation": b64({"label": "cat"})})
    alice.patch("/datasets/ds/schemas/schema-label",
                {"schema": b64({"type": "object"})})
    events = alice.get("/datasets/ds/events?limit=1000").get_json()
    for e in events[1:4]:
        alice.put(f"/datasets/ds/events/{e['uuid']}/accept")
    alice.put(f"/datasets/ds/events/{events[4]['uuid']}/reject")
    alice.delete(f"/datasets/ds/objects/{objects[3]}/0")
    alice.delete(f"/datasets/ds/annotations/{ann}/0")
    alice.delete("/datasets/ds/schemas/schema-label/0")
    alice.put("/datasets/ds/owners/alice")  # refused: already an owner
    for path in [
        f"/datasets/ds/objects?after={objects[1]}&limit=2", "/datasets/ds/objects/pending?limit=2",
        f"/datasets/ds/objects/accepted?after={objects[0]}", f"/datasets/ds/objects/{raw}",
        f"/datasets/ds/objects/{objects[1]}/0", f"/datasets/ds/objects/{raw}/0/bytes",
        f"/datasets/ds/objects?hash={'0' * 64}", f"/datasets/ds/annotations?after={ann}",
        f"/datasets/ds/annotations/{ann}/1", "/datasets/ds/annotations/pending?limit=1",
        f"/datasets/ds/events?after={events[2]['uuid']}&limit=3", "/datasets/ds/schemas",
        "/datasets/ds/schemas/schema-label", "/datasets/ds/schemas/schema-label/1",
        "/datasets/ds/schemas/pending", "/datasets/ds/owners", "/datasets",
        *FILTERED_BY,  # below
    ]:
        assert alice.get(path).status_code == 200, path
    assert schema["versions"] == 1
    # the same reads as of a point of the log, and releases, manifests and diffs
    point = events[5]["uuid"]
    assert alice.post("/datasets/ds/releases", {"name": "r1", "at": point}).status_code == 200
    assert alice.post("/datasets/ds/releases", {"name": "r2"}).status_code == 200
    for path in [
        f"/datasets/ds/objects?after={objects[1]}&limit=2&as_of={point}",
        "/datasets/ds/objects/pending?limit=2&as_of=r1", "/datasets/ds/objects/accepted?as_of=r2",
        "/datasets/ds/objects/deleted?as_of=r2", "/datasets/ds/objects/rejected?as_of=r1",
        f"/datasets/ds/objects/{objects[0]}?as_of=r2", f"/datasets/ds/objects/{objects[1]}/0?as_of=r1",
        f"/datasets/ds/objects/{objects[1]}/0/bytes?as_of=r1",
        f"/datasets/ds/objects?hash={'0' * 64}&as_of=r1", "/datasets/ds/objects?prefix=1&as_of=r1",
        f"/datasets/ds/annotations?as_of=r2", f"/datasets/ds/annotations/{ann}/1?as_of=r2",
        "/datasets/ds/annotations?schema=schema-label&as_of=r2",
        "/datasets/ds/schemas?as_of=r1", "/datasets/ds/schemas/schema-label?as_of=r2",
        "/datasets/ds/schemas/schema-label/0?as_of=r2", "/datasets/ds/schemas/accepted?as_of=r2",
        f"/datasets/ds/events?after={events[2]['uuid']}&limit=3&as_of=r1",
        "/datasets/ds/events?pending=true&as_of=r1", "/datasets/ds/releases",
        "/datasets/ds/releases/r1", "/datasets/ds/releases/r2/manifest",
        "/datasets/ds/diff?from=r1&to=r2", f"/datasets/ds/diff?after={objects[1]}&limit=1",
        # the verifiable log: every node of a root or proof is one primary-key lookup
        "/datasets/ds/checkpoint", f"/datasets/ds/proofs/inclusion?event={events[2]['uuid']}",
        f"/datasets/ds/proofs/inclusion?event={events[0]['uuid']}&size=6",
        "/datasets/ds/proofs/consistency?from=3", "/datasets/ds/proofs/consistency?from=5&to=7",
        *STATS,  # below
    ]:
        assert alice.get(path).status_code == 200, path


# Dataset statistics: aggregates over one dataset at a point, each narrowed to one kind of
# items created by then (versions_in_order) and the rows they need by primary key.
STATS = ["/datasets/ds/stats", "/datasets/ds/stats?as_of=r1", "/datasets/ds/stats?as_of=r2"]


# The filtered lists, and the index each must be narrowed by (beyond the checks below, which
# a walk of the whole dataset in creation order would pass).
FILTERED_BY = {
    "/datasets/ds/objects?prefix=1&limit=2": "versions_by_name",
    "/datasets/ds/objects?prefix=%25_&limit=2": "versions_by_name",
    "/datasets/ds/objects?name=0.txt": "versions_by_name",
    "/datasets/ds/schemas?prefix=schema-": "versions_by_name",
    "/datasets/ds/annotations?schema=schema-label": "versions_by_schema",
    "/datasets/ds/events?pending=true&limit=2": "events_awaiting_review",
}


# Rows a statement found through an index and passed on (the statistics' subqueries and
# materialized parts, named stats_..., and SQLite's own subqueries of window functions):
# reading them is not a scan of a table.
MATERIALIZED = re.compile(r"SCAN (stats_\w+|\(subquery-\d+\))$")


# Lists that are whole by design: every dataset name, every owner or schema of one dataset.
WHOLE_LISTS = re.compile(r"FROM datasets ORDER BY|FROM owners WHERE owners.dataset_id = \? "
                         r"ORDER BY|SELECT datasets.name FROM datasets LEFT OUTER JOIN "
                         r"dataset_settings|FROM members WHERE members.dataset_id = \? ORDER BY"
                         # the log signing key: one row per installation
                         r"|FROM log_keys ORDER BY")


def test_every_query_is_narrowed_by_an_index(app, alice, installation, monkeypatch) -> None:
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and not executemany:
            seen.append((statement, parameters))

    # statements compiled once and run on the DBAPI cursor (storage/prepared.py) bypass the
    # engine's events: record them as their parameters are bound
    bind = _Compiled.args

    def record_prepared(compiled: _Compiled, params: dict) -> object:
        bound = bind(compiled, params)
        if compiled.sql.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((compiled.sql, bound))
        return bound

    monkeypatch.setattr(_Compiled, "args", record_prepared)
    event.listen(installation.db.engine, "before_cursor_execute", record)
    try:
        _workload(alice)
    finally:
        event.remove(installation.db.engine, "before_cursor_execute", record)
        monkeypatch.undo()

    assert len(seen) > 50
    problems = []
    raw = installation.db.engine.raw_connection()
    try:
        for statement, parameters in {(s, tuple(p)) for s, p in seen}:
            flat = " ".join(statement.split())
            plan = raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            for row in plan:
                detail = row[3]
                only_by_dataset = re.search(
                    r"USING ((COVERING )?INDEX \S+|PRIMARY KEY) \(dataset_id=\?\)$", detail)
                scans = detail.startswith("SCAN ") and "CONSTANT ROW" not in detail \
                    and not MATERIALIZED.match(detail)
                if (scans or only_by_dataset) and not WHOLE_LISTS.search(flat):
                    problems.append(f"{detail}  <-  {flat[:200]}")
    finally:
        raw.close()
    assert not problems, "\n".join(problems)


def test_filtered_lists_use_their_index(app, alice, installation) -> None:
    """Name prefixes, exact names, schema names and pending events are found through their
    own index, not by walking the dataset in creation order and testing every row."""
    _workload(alice)
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    for path, index in FILTERED_BY.items():
        seen.clear()
        event.listen(installation.db.engine, "before_cursor_execute", record)
        try:
            assert alice.get(path).status_code == 200, path
        finally:
            event.remove(installation.db.engine, "before_cursor_execute", record)
        raw = installation.db.engine.raw_connection()
        try:
            plans = [" / ".join(row[3] for row in raw.execute(
                f"EXPLAIN QUERY PLAN {statement}", tuple(parameters)).fetchall())
                for statement, parameters in seen
                if statement.lstrip().upper().startswith("SELECT")]
        finally:
            raw.close()
        assert any(f"USING INDEX {index} " in plan or f"USING COVERING INDEX {index} " in plan
                   for plan in plans), (path, plans)


BIG_DATASET = [
    # 50,000 items and events of another dataset (half objects, half annotations each attached
    # to one object, three label rows each), written straight into the tables: what the planner
    # sees
    "INSERT INTO items (dataset_id, uuid, kind, name, created_seq, versions) "
    "SELECT :d, md5('i' || i)::uuid::text, CASE WHEN i % 2 = 0 THEN 'object' ELSE 'annotation' "
    "END, NULL, i, 1 FROM generate_series(1, 50000) i",
    "INSERT INTO versions (dataset_id, uuid, version, kind, created_seq, name, format, size, hash, "
    "schema_uuid, schema_version, create_pending, create_rejected, delete_pending, "
    "delete_accepted, added_seq, reviewed_seq, deleted_seq, delete_requested_seq) "
    "SELECT :d, md5('i' || i)::uuid::text, 0, CASE WHEN i % 2 = 0 THEN 'object' ELSE "
    "'annotation' END, i, CASE WHEN i % 2 = 0 THEN 'o' || i END, 'text/plain', 10, "
    "md5('h' || i) || md5('x' || i), CASE WHEN i % 2 = 1 THEN md5('s')::uuid::text END, "
    "CASE WHEN i % 2 = 1 THEN 0 END, false, false, false, false, i, i + 1, NULL, NULL "
    "FROM generate_series(1, 50000) i",
    "INSERT INTO annotation_links (dataset_id, annotation_uuid, object_uuid, object_version, "
    "position) SELECT :d, md5('i' || i)::uuid::text, md5('i' || (i + 1))::uuid::text, 0, 0 "
    "FROM generate_series(1, 50000, 2) i",
    "INSERT INTO events (dataset_id, seq, uuid, type, body, integrity, review, target_uuid, "
    "target_version, reviewed_seq) SELECT :d, i, md5('e' || i)::uuid::text, 'ObjectCreateEvent', "
    "'{}', md5('h' || i) || md5('x' || i), 'ACCEPTED', md5('i' || i)::uuid::text, 0, i + 1 "
    "FROM generate_series(1, 50000) i",
    "INSERT INTO annotation_labels (dataset_id, annotation_uuid, annotation_version, position, "
    "kind, label_json, count) SELECT :d, md5('i' || i)::uuid::text, 0, p, 'detection', "
    "'\"c' || ((i + p) % 20) || '\"', 1 FROM generate_series(1, 50000, 2) i, "
    "generate_series(0, 2) p",
]
WHOLE_TABLE = re.compile(r"Seq Scan on (versions|annotation_links|annotation_labels|items|"
                         r"events)\b")


def test_statistics_on_postgresql_read_only_their_dataset(tmp_path) -> None:
    """PostgreSQL's plans of the statistics' statements for a small dataset beside a large one
    (50,000 versions of another dataset, planner statistics up to date): no sequential scan of
    a table that holds every dataset's rows. (The plans of the dataset of bench/stats.py, which
    is the whole table there, are in its --plans output.)"""
    from sqlalchemy import text

    from gonk.api import create_app
    from gonk.installation import Installation
    from gonk.users import add_user
    from tests.support import postgres
    from tests.support.http import Client

    url = postgres.create_database()
    installation = Installation.create(tmp_path / "data", url, f"file://{tmp_path / 'blobs'}")
    try:
        app = create_app(installation=installation)
        app.config["TESTING"] = True
        alice = Client(app.test_client(), add_user(installation, "alice"), "alice")
        _workload(alice)
        with installation.db.write() as conn:
            big = conn.execute(text(
                "INSERT INTO datasets (name, head_integrity, event_count, created_at) VALUES "
                "('big', '', 0, '2026-01-01T00:00:00.000000Z') RETURNING id")).scalar()
            for statement in BIG_DATASET:
                conn.execute(text(statement), {"d": big})
        with installation.db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")

        seen: list[tuple[str, object]] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith(("SELECT", "WITH")) and not executemany:
                seen.append((statement, parameters))

        event.listen(installation.db.engine, "before_cursor_execute", record)
        try:
            for path in STATS:
                assert alice.get(path).status_code == 200, path
        finally:
            event.remove(installation.db.engine, "before_cursor_execute", record)
        statistics = [(s, p) for s, p in seen if "stats_" in s]
        assert len(statistics) == 4 * len(STATS)
        problems = []
        raw = installation.db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement, parameters in statistics:
                cursor.execute(f"EXPLAIN {statement}", parameters)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                if WHOLE_TABLE.search(plan):
                    problems.append(f"{' '.join(statement.split())[:150]}\n{plan}")
        finally:
            raw.close()
        assert not problems, "\n\n".join(problems)
    finally:
        installation.close()
        postgres.drop_database(url)
