"""The per-label counts behind GET /datasets/D/stats (table annotation_labels): `gonk-api
migrate` fills them for annotations stored before the table existed, `gonk-api verify` finds a
row that the bytes do not give, and `gonk-api copy` carries them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, inspect, select, update

from gonk import service
from gonk.copying import copy_installation
from gonk.domain import events as ev
from gonk.domain import label_kinds
from gonk.installation import Installation, StorageError
from gonk.migration import migrate_installation
from gonk.stats import dataset_stats
from gonk.storage import merkle, revision
from gonk.storage import tables as t
from gonk.storage.log import DatasetLog
from gonk.storage.stats import label_json
from gonk.users import add_user
from gonk.verify import verify_dataset
from tests.support import postgres

DETECTION = json.dumps(label_kinds.template(label_kinds.DETECTION)).encode()
CLASSIFICATION = json.dumps(label_kinds.template(label_kinds.CLASSIFICATION)).encode()
PLAIN = json.dumps({"type": "object"}).encode()


def _boxes(*labels: str) -> bytes:
    return json.dumps({"boxes": [{"label": label, "bbox": [0, 0, 1, 1]}
                                 for label in labels]}).encode()


def _accept_all(installation: Installation, dataset: str) -> None:
    with installation.db.read() as conn:
        waiting = list(conn.execute(
            select(t.events.c.uuid).join(t.datasets, t.datasets.c.id == t.events.c.dataset_id)
            .where(t.datasets.c.name == dataset, t.events.c.review == ev.PENDING)
            .order_by(t.events.c.seq)).scalars())
    for event_uuid in waiting:
        service.review(installation, dataset, "alice", event_uuid, True)


def _fill(installation: Installation) -> dict[str, dict[str, str]]:
    """Two datasets with detection, classification and plain annotations (one updated), all
    accepted, through the service (which stores the label counts); returns the items made."""
    add_user(installation, "alice")
    made: dict[str, dict[str, str]] = {}
    for dataset in ("birds", "cars"):
        service.create_dataset(installation, "alice", dataset)
        for name, schema in (("schema-det", DETECTION), ("schema-cls", CLASSIFICATION),
                             ("schema-plain", PLAIN)):
            service.create_schema(installation, dataset, "alice", name, schema)
        objects = [service.create_object(installation, dataset, "alice", f"{i}.jpg",
                                         "image/jpeg", f"{dataset} {i}".encode())["uuid"]
                   for i in range(3)]
        _accept_all(installation, dataset)

        def annotate(schema: str, on: str, doc: bytes, dataset: str = dataset) -> str:
            return service.create_annotation(installation, dataset, "alice",
                                             {"name": schema, "version": 0},
                                             [{"uuid": on, "version": 0}], doc)["uuid"]

        det = annotate("schema-det", objects[0], _boxes("cat", "cat", dataset))
        annotate("schema-cls", objects[1], json.dumps({"labels": ["dog", "x\x00y"]}).encode())
        annotate("schema-plain", objects[2], b'{"free": "form"}')
        service.update_annotation(installation, dataset, "alice", det,
                                  {"name": "schema-det", "version": 0}, _boxes("owl"))
        _accept_all(installation, dataset)
        made[dataset] = {"det": det, "object": objects[2]}
    return made


def _label_rows(installation: Installation) -> list[tuple[Any, ...]]:
    L = t.annotation_labels.c
    with installation.db.read() as conn:
        return [tuple(row) for row in conn.execute(
            select(t.datasets.c.name, L.annotation_uuid, L.annotation_version, L.position,
                   L.kind, L.label_json, L["count"])
            .join(t.datasets, t.datasets.c.id == L.dataset_id)
            .order_by(t.datasets.c.name, L.annotation_uuid, L.annotation_version, L.position))]


@pytest.fixture
def postgres_url() -> Any:
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_migrate_fills_the_labels_of_annotations_stored_before(
        tmp_path: Path, database: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url") if database == "postgres" else None
    data_dir = tmp_path / "data"
    installation = Installation.create(data_dir, url)
    made = _fill(installation)
    rows_now = _label_rows(installation)
    # per dataset: det v0 (cat: 2, birds|cars: 1), det v1 (owl: 1), cls (dog: 1, x\0y: 1); none
    # for the plain schema's annotation
    assert len(rows_now) == 2 * (2 + 1 + 2)
    stats_before = {d: dataset_stats(installation, d) for d in made}

    # back to revision 0004 (no annotation_labels), then annotations written by the previous
    # Gonk: appended without label counts, among them one whose document does not have its
    # kind's shape and one of a schema declaring an unknown kind (both stored before kinds
    # were checked: they get no label counts)
    with installation.db.write() as conn:
        command.downgrade(revision._config(conn), "0004")
    with installation.db.read() as conn:
        assert "annotation_labels" not in inspect(conn).get_table_names()
    old = {"fits": _boxes("heron", "heron"), "misfit": json.dumps({"boxes": "none"}).encode(),
           "unknown": _boxes("gull")}
    odd_schema = json.dumps({"x-gonk-kind": "polygons", "type": "object"}).encode()
    # (the rules of this version read a dataset's members and settings, and its appends write
    # the Merkle tree: those tables exist while the old writes are made, then go again, as
    # revision 0004 had none)
    access_tables = [t.metadata.tables[name]
                     for name in ("members", "dataset_settings", "merkle_nodes")]
    with installation.db.write() as conn:
        for table in access_tables:
            table.create(conn)
        for (dataset_id,) in conn.execute(select(t.datasets.c.id)).all():  # the trees so far
            merkle.build(conn, dataset_id, merkle.event_leaves(conn, dataset_id))
    with installation.db.write() as conn:
        log = DatasetLog.lock(conn, "birds")
        odd = ev.new_uuid()
        created = log.append(ev.object_write("alice", ev.object_metadata(
            odd, 0, "schema-odd", ev.SCHEMA_FORMAT, len(odd_schema),
            installation.blobs.put(odd_schema))))
        log.append(ev.review("alice", created["uuid"], True))
        schema_det = log.state.schema_named("schema-det")
        assert schema_det is not None
        for key, doc in old.items():
            schema = odd if key == "unknown" else schema_det.uuid
            created = log.append(ev.annotation_create("alice", ev.annotation_metadata(
                ev.new_uuid(), 0, schema, 0, len(doc), installation.blobs.put(doc)),
                [ev.identifier(made["birds"]["object"], 0)]))
            log.append(ev.review("alice", created["uuid"], True))
            if key == "fits":
                fits = created["annotation"]["uuid"]
    with installation.db.write() as conn:
        for table in reversed(access_tables):
            table.drop(conn)
    assert revision.status(installation.db) == revision.OUTDATED

    lines = list(migrate_installation(installation))
    assert "upgraded from 0004 to revision" in lines[0], lines
    assert any("Annotation labels: 11 label counts written" in line for line in lines), lines
    assert revision.status(installation.db) == revision.CURRENT
    assert _label_rows(installation) == sorted(
        [*rows_now, ("birds", fits, 0, 0, "detection", '"heron"', 2)])
    assert dataset_stats(installation, "cars") == stats_before["cars"]
    labels = dataset_stats(installation, "birds")["labels"]
    assert {"schema": "schema-det", "kind": "detection", "label": "heron", "count": 2} in labels
    assert not any(entry["label"] == "gull" for entry in labels)
    for dataset in made:
        verdict = verify_dataset(installation, dataset)
        assert verdict.ok, verdict.line()

    again = list(migrate_installation(installation))
    assert "already at revision" in again[0] and not any("labels" in x for x in again), again
    assert len(_label_rows(installation)) == len(rows_now) + 1
    installation.close()


def test_migrate_changes_nothing_when_an_annotations_bytes_are_missing(tmp_path: Path) -> None:
    installation = Installation.create(tmp_path / "data")
    made = _fill(installation)
    with installation.db.write() as conn:
        command.downgrade(revision._config(conn), "0004")
        digest = conn.execute(select(t.versions.c.hash).where(
            t.versions.c.uuid == made["cars"]["det"], t.versions.c.version == 1)).scalar_one()
    path = installation.blobs.local_path(digest)
    assert path is not None
    path.unlink()
    # (both datasets' detection annotations hold these bytes in their version 1)
    with pytest.raises(StorageError, match=f"the bytes {digest} of annotation \\S+ version 1 "
                                           "are missing from blob storage; the database was "
                                           "not changed"):
        list(migrate_installation(installation))
    assert revision.status(installation.db) == revision.OUTDATED
    with installation.db.read() as conn:
        assert "annotation_labels" not in inspect(conn).get_table_names()
    installation.close()


def test_verify_finds_label_rows_the_bytes_do_not_give(tmp_path: Path) -> None:
    installation = Installation.create(tmp_path / "data")
    made = _fill(installation)
    assert verify_dataset(installation, "birds").ok
    L = t.annotation_labels.c
    birds = select(t.datasets.c.id).where(t.datasets.c.name == "birds").scalar_subquery()
    one = (L.dataset_id == birds, L.annotation_uuid == made["birds"]["det"],
           L.annotation_version == 0, L.position == 0)
    with installation.db.write() as conn:
        conn.execute(update(t.annotation_labels).where(*one).values(count=7))
    verdict = verify_dataset(installation, "birds")
    assert not verdict.ok
    assert verdict.line().startswith("birds: FAILED: annotation labels differ")
    assert made["birds"]["det"] in verdict.message and '"birds": 7' in verdict.message
    assert verify_dataset(installation, "cars").ok

    with installation.db.write() as conn:  # put it back, then remove it
        conn.execute(update(t.annotation_labels).where(*one).values(count=1))
    assert verify_dataset(installation, "birds").ok
    with installation.db.write() as conn:
        conn.execute(delete(t.annotation_labels).where(*one))
    assert "annotation labels differ" in verify_dataset(installation, "birds").message

    with installation.db.write() as conn:  # a row of an annotation that does not exist
        conn.execute(insert(t.annotation_labels).values(
            dataset_id=birds, annotation_uuid=made["birds"]["det"], annotation_version=0,
            position=0, kind="detection", label_json='"birds"', count=1))
        conn.execute(insert(t.annotation_labels).values(
            dataset_id=birds, annotation_uuid="00000000-0000-4000-8000-000000000000",
            annotation_version=0, position=0, kind="detection", label_json='"ghost"', count=1))
    verdict = verify_dataset(installation, "birds")
    assert not verdict.ok and "annotation labels" in verdict.message, verdict.line()
    installation.close()


def test_copy_carries_the_label_rows(tmp_path: Path, postgres_url: str) -> None:
    source = Installation.create(tmp_path / "data")
    made = _fill(source)
    target = Installation.create(tmp_path / "data", postgres_url,
                                 f"file://{tmp_path / 'target-blobs'}")
    report = copy_installation(source, target)
    assert all(verdict.ok for verdict in report.verdicts), [v.line() for v in report.verdicts]
    rows = _label_rows(source)
    assert report.label_rows == len(rows) > 0
    assert _label_rows(target) == rows
    for dataset in made:
        assert dataset_stats(target, dataset) == dataset_stats(source, dataset)
    with target.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.annotation_labels)).scalar() \
            == len(rows)
    source.close()
    target.close()


def test_label_json_stores_any_label_and_gives_it_back() -> None:
    for label in ("cat", "猫", "a\x00b", "\ud800", 'quote " and \\', "\n"):
        text = label_json(label)
        text.encode("utf-8")  # storable everywhere
        assert "\x00" not in text
        assert json.loads(text) == label
    assert label_json("猫") == '"猫"'  # readable
