"""Points and releases in storage: Alembic 0004 fills the positions of an existing log (SQLite
and PostgreSQL), a release survives `copy` byte for byte (SQLite + files to PostgreSQL + S3), and
`verify` catches a release whose record or whose point of the log was changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select, update

from gonk import copying, queries, releases, service
from gonk.domain import integrity, rules
from gonk.installation import Installation
from gonk.storage import revision
from gonk.storage import tables as t
from gonk.storage.datasets import get as dataset_row
from gonk.verify import verify_dataset
from tests.integration.test_points_property import (
    check_every_point,
    check_release,
    replay,
    stored_log,
)
from tests.support import postgres

AUTHOR = "alice"
LABEL = json.dumps({"type": "object", "properties": {"label": {"type": "string"}}}).encode()
LABEL_2 = json.dumps({"type": "object", "properties": {"label": {"maxLength": 9}}}).encode()


def _doc(text: str) -> bytes:
    return json.dumps({"label": text}).encode()


def _newest_pending(installation: Installation, dataset: str) -> str:
    return json.loads(queries.event_page(installation, dataset, None, 10_000,
                                         pending=True)[-1])["uuid"]


def _last_event(installation: Installation, dataset: str) -> str:
    return json.loads(stored_log(installation, dataset)[-1])["uuid"]


def history(installation: Installation, dataset: str) -> dict[str, str]:
    """One dataset's log with every kind of status change: creates and updates accepted and
    rejected, a deletion rejected then asked again and accepted, a deletion left pending, an
    annotation update, annotations gone stale (their object updated or deleted), a schema
    deprecated and its name taken by a new schema. Returns event uuids of points in it."""
    inst, ds = installation, dataset
    points: dict[str, str] = {}

    def review(accept: bool = True) -> None:
        service.review(inst, ds, AUTHOR, _newest_pending(inst, ds), accept)

    service.create_dataset(inst, AUTHOR, ds)
    service.create_schema(inst, ds, AUTHOR, "schema-label", LABEL)
    review()
    service.update_schema(inst, ds, AUTHOR, "schema-label", LABEL_2)
    review(False)
    objects = []
    for n in range(4):
        objects.append(service.create_object(inst, ds, AUTHOR, f"{n}.txt", "text/plain",
                                             f"{ds} object {n}".encode())["uuid"])
        review(n != 3)
    label = {"name": "schema-label", "version": 0}
    a1 = service.create_annotation(inst, ds, AUTHOR, label, [{"uuid": objects[0], "version": 0}],
                                   _doc("one"))["uuid"]
    review()
    a2 = service.create_annotation(inst, ds, AUTHOR, label,
                                   [{"uuid": objects[1], "version": 0},
                                    {"uuid": objects[2], "version": 0}], _doc("two"))["uuid"]
    review()
    service.create_annotation(inst, ds, AUTHOR, label, [{"uuid": objects[2], "version": 0}],
                              _doc("three"))
    review(False)
    points["all accepted"] = _last_event(inst, ds)
    service.update_annotation(inst, ds, AUTHOR, a2, label, _doc("two, again"))
    review()
    service.update_annotation(inst, ds, AUTHOR, a1, label, _doc("one, again"))
    review(False)
    service.update_object(inst, ds, AUTHOR, objects[0], "0.txt", "text/plain",
                          f"{ds} object 0, updated".encode())
    review()  # a1 links version 0 of objects[0]: stale from here
    points["a1 stale"] = _last_event(inst, ds)
    service.delete_object(inst, ds, AUTHOR, objects[1], 0)
    review(False)
    service.delete_object(inst, ds, AUTHOR, objects[1], 0)
    review()  # a2 stale too
    service.delete_object(inst, ds, AUTHOR, objects[2], 0)  # left pending
    service.delete_annotation(inst, ds, AUTHOR, a2, 1)
    review()
    service.create_schema(inst, ds, AUTHOR, "schema-other", LABEL)
    review()
    service.deprecate_schema(inst, ds, AUTHOR, "schema-other", 0)
    review()
    service.create_schema(inst, ds, AUTHOR, "schema-other", LABEL_2)  # the name passes on
    points["head"] = _last_event(inst, ds)
    return points


def _rows(installation: Installation) -> dict[str, list[tuple[Any, ...]]]:
    with installation.db.read() as conn:
        return {table.name: [tuple(row) for row in conn.execute(
            select(table).order_by(*table.primary_key.columns))]
            for table in (t.versions, t.events, t.items)}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


# --- migrate: revision 0003 to 0004 --------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_migrate_from_0003_fills_the_points_from_the_log(
        tmp_path: Path, database: str, request: pytest.FixtureRequest) -> None:
    """An installation at revision 0003 (the tables the previous code wrote, made here by
    writing through the current code and taking the database down to 0003: the flags and
    everything else are what the previous code stored) comes out of the upgrade with the
    positions the current code records, verifies, and reads as of every point as the log says."""
    url = request.getfixturevalue("postgres_url") if database == "postgres" else None
    data_dir = tmp_path / "data"
    installation = Installation.create(data_dir, url)
    for ds in ("first", "second"):
        history(installation, ds)
    before = _rows(installation)
    with installation.db.write() as conn:
        command.downgrade(revision._config(conn), "0003")
    with installation.db.read() as conn:
        found = inspect(conn)
        assert "releases" not in found.get_table_names()
        assert "added_seq" not in {c["name"] for c in found.get_columns("versions")}
        assert "reviewed_seq" not in {c["name"] for c in found.get_columns("events")}
    assert revision.status(installation.db) == revision.OUTDATED
    assert revision.upgrade(installation.db, _make_log_key) == ("0003",
                                                                revision.head_revision())
    installation.close()
    installation = Installation.open(data_dir, url)
    try:
        after = _rows(installation)
        for table in before:  # every position, as the live write path wrote it
            assert after[table] == before[table], table
        for ds in ("first", "second"):
            verdict = verify_dataset(installation, ds)
            assert verdict.ok, verdict.message
        check_every_point(installation, "first")
        # a release at a past point of the migrated log counts and lists its content
        log = stored_log(installation, "second")
        point = len(log) // 2
        releases.create_release(installation, "second", AUTHOR, "half", "",
                                json.loads(log[point - 1])["uuid"])
        second = replay(log)
        check_release(installation, "second", "half", second[point], second[-1])
        verdict = verify_dataset(installation, "second")
        assert verdict.ok and "checkpoints intact" in verdict.message, verdict.message
    finally:
        installation.close()


# --- copy: SQLite + files to PostgreSQL + S3 ---------------------------------------------------


def test_releases_survive_a_copy_to_postgres_and_s3(tmp_path: Path, postgres_url: str,
                                                     s3_blob_url: str) -> None:
    source = Installation.create(tmp_path / "data")
    points = history(source, "birds")
    made = [
        releases.create_release(source, "birds", AUTHOR, "v1.0", "all accepted",
                                points["all accepted"]),
        releases.create_release(source, "birds", AUTHOR, "v1.1", "", points["a1 stale"]),
        releases.create_release(source, "birds", AUTHOR, "latest", "at the head", None),
    ]
    assert made[1]["counts"]["stale_annotations"] == 1
    assert made[2]["counts"]["stale_annotations"] == 2  # a2's object deleted too
    manifests = {r["name"]: b"".join(releases.release_manifest(source, "birds", r["name"])[1])
                 for r in made}
    target = Installation.create(tmp_path / "elsewhere", postgres_url, s3_blob_url)
    try:
        report = copying.copy_installation(source, target)
        assert report.releases == 3
        assert [v.ok for v in report.verdicts] == [True]
        assert releases.list_releases(target, "birds", None, None) == made
        for release in made:
            name = release["name"]
            assert releases.get_release(target, "birds", name) == release
            found, lines = releases.release_manifest(target, "birds", name)
            assert b"".join(lines) == manifests[name]
            assert found.manifest_sha256 == release["manifest_sha256"]
            for kind in (rules.SCHEMA, rules.OBJECT, rules.ANNOTATION):
                assert queries.list_items(target, "birds", kind, None, None, as_of=name) == \
                    queries.list_items(source, "birds", kind, None, None, as_of=name)
        assert releases.diff_page(target, "birds", "v1.0", "v1.1", None, 100) == \
            releases.diff_page(source, "birds", "v1.0", "v1.1", None, 100)
        verdict = verify_dataset(target, "birds")
        assert verdict.ok and "checkpoints intact" in verdict.message, verdict.message
    finally:
        target.close()
        source.close()


# --- verify catches a changed release or a changed point ---------------------------------------


def _relink_from(conn: Any, dataset_id: int, seq: int, change: dict[str, Any]) -> None:
    """Rewrite event #seq with `change` and relink the chain from there on (as a forger who
    knows the scheme would): the chain verifies again, the derived state is untouched."""
    rows = conn.execute(select(t.events.c.seq, t.events.c.body).where(
        t.events.c.dataset_id == dataset_id).order_by(t.events.c.seq)).all()
    head = ""
    for row in rows:
        event = json.loads(row.body)
        if row.seq == seq:
            event.update(change)
        if row.seq >= seq:
            event["integrity"] = integrity.link(head, event)
            conn.execute(update(t.events).where(
                t.events.c.dataset_id == dataset_id, t.events.c.seq == row.seq).values(
                body=json.dumps(event, separators=(",", ":")), integrity=event["integrity"]))
        head = event["integrity"]
    conn.execute(update(t.datasets).where(t.datasets.c.id == dataset_id).values(
        head_integrity=head))


TAMPERING = ["manifest_sha256", "event_integrity", "event body, chain broken",
             "event body at the point, chain relinked", "event body before the point, "
             "chain relinked", "event body after the point, chain relinked"]


@pytest.mark.parametrize("tampering", TAMPERING)
def test_verify_catches_a_changed_release_or_point(tmp_path: Path, tampering: str) -> None:
    installation = Installation.create(tmp_path / "data")
    try:
        points = history(installation, "birds")
        releases.create_release(installation, "birds", AUTHOR, "v1.0", "", points["a1 stale"])
        release = releases.get_release(installation, "birds", "v1.0")
        point = release["at"]["index"] + 1
        assert verify_dataset(installation, "birds").ok
        with installation.db.write() as conn:
            dataset_id = dataset_row(conn, "birds").id
            ours = (t.releases.c.dataset_id == dataset_id) & (t.releases.c.name == "v1.0")
            if tampering == "manifest_sha256":
                conn.execute(update(t.releases).where(ours).values(manifest_sha256="0" * 64))
            elif tampering == "event_integrity":
                conn.execute(update(t.releases).where(ours).values(event_integrity="f" * 64))
            elif tampering == "event body, chain broken":
                body = json.loads(conn.execute(select(t.events.c.body).where(
                    t.events.c.dataset_id == dataset_id, t.events.c.seq == point)).scalar_one())
                body["timestamp"] = "2000-01-01T00:00:00Z"
                conn.execute(update(t.events).where(
                    t.events.c.dataset_id == dataset_id, t.events.c.seq == point).values(
                    body=json.dumps(body, separators=(",", ":"))))
            else:
                seq = {"at": point, "before": 2, "after": point + 1}[tampering.split()[2]]
                _relink_from(conn, dataset_id, seq, {"timestamp": "2000-01-01T00:00:00Z"})
        verdict = verify_dataset(installation, "birds")
        if tampering.endswith("chain relinked"):
            # the Merkle tree, written as each event was appended, names the event changed
            # (before, at or after a release's point): a relinked chain no longer passes
            assert not verdict.ok and "Merkle tree" in verdict.message, verdict.message
            seq = {"at": point, "before": 2, "after": point + 1}[tampering.split()[2]]
            assert f"event #{seq}'s leaf" in verdict.message, verdict.message
        elif tampering == "event body, chain broken":
            assert not verdict.ok and "broken hash chain" in verdict.message, verdict.message
        else:
            assert not verdict.ok, verdict.message
            assert verdict.message.startswith("release v1.0:"), verdict.message
            word = "manifest" if tampering == "manifest_sha256" else "integrity"
            assert word in verdict.message, verdict.message
    finally:
        installation.close()


def _make_log_key(conn: Any, _before: str | None) -> None:
    """What `migrate` does after the tables' upgrade: make the log signing key."""
    from gonk.log_signing import ensure_key

    ensure_key(conn, "gonk.test")
