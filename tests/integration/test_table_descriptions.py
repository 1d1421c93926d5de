"""Each table is described once: tables.py, the records (dataclasses) its rows are
(storage/records.py), and the Alembic revisions must agree, on every database."""

from __future__ import annotations

import dataclasses

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table

from gonk.domain import rules
from gonk.storage import records
from gonk.storage.projection import SqlState
from gonk.storage.tables import metadata

DESCRIBED = [records.DATASETS, records.USERS, records.RELEASES, records.LABELS,
             records.LEASES, records.QUEUED_OBJECTS, records.FLOORS, records.MERKLE_NODES,
             records.LOG_KEYS, *records.PROJECTION_TABLES]


def test_every_table_is_described_by_a_record() -> None:
    assert {d.table.name for d in DESCRIBED} == set(metadata.tables)
    for described in DESCRIBED:
        names = [f.name for f in dataclasses.fields(described.record)]
        assert [c.name for c in described.columns] == names


def test_a_table_and_record_that_disagree_fail_at_once() -> None:
    @dataclasses.dataclass(frozen=True)
    class Thing:
        uuid: str
        flag: bool

    table = Table("things", MetaData(), Column("dataset_id", Integer, primary_key=True),
                  Column("uuid", String, primary_key=True), Column("other", Boolean))
    with pytest.raises(RuntimeError, match=r"columns \['other'\] have no field, fields "
                                           r"\['flag'\] have no column"):
        records.RecordTable(table, Thing, key=["uuid"])


def test_the_newest_revision_creates_exactly_the_described_tables(installation) -> None:
    """What `init` made through Alembic is what tables.py describes: no missing or extra
    table, column, index or type (so a new column cannot be forgotten in a revision)."""
    with installation.db.read() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_records_go_through_the_write_path_and_back_unchanged(installation) -> None:
    """Every field of a record is written by the write path's INSERT and read back by its
    lookup, booleans as booleans whatever the driver returns."""
    from gonk.storage import datasets

    item = rules.Item("00000000-0000-4000-8000-000000000001", rules.OBJECT, None, 2, 1)
    version = rules.Version(item.uuid, 0, rules.OBJECT, "a.txt", "text/plain", 3, "ab" * 32,
                            create_pending=False, create_rejected=False, delete_pending=True,
                            delete_accepted=False)
    with installation.db.write() as conn:
        ds = datasets.create(conn, "ds", "2026-01-01T00:00:00.000000Z")
        state = SqlState(conn, ds.id)
        state.apply([rules.ItemSaved(item), rules.VersionAdded(version)])
        assert state.item(item.uuid) == item
        assert state.version(item.uuid, 0) == version
        flags = [getattr(state.version(item.uuid, 0), name)
                 for name in ("create_pending", "create_rejected", "delete_pending",
                              "delete_accepted")]
        assert flags == [False, False, True, False]
        assert all(type(flag) is bool for flag in flags)
        changed = dataclasses.replace(version, delete_pending=False, delete_accepted=True)
        state.apply([rules.FlagsChanged(changed)])
        assert state.version(item.uuid, 0) == changed
        assert state.snapshot()["versions"] == [dataclasses.astuple(changed)]


def test_statement_parameters_of_a_one_field_key_or_record() -> None:
    """A key of one field (owners) and a record of one field still give one parameter each."""
    owner = rules.Owner("alice", 7)
    assert records.OWNERS.update_params(3, owner) == {"p_username": "alice", "p_dataset_id": 3}
    assert records.OWNERS.insert_params(3, owner) == {"username": "alice", "rank": 7,
                                                      "dataset_id": 3}

    @dataclasses.dataclass(frozen=True)
    class Tag:
        label: str

    table = Table("tags", MetaData(), Column("dataset_id", Integer, primary_key=True),
                  Column("label", String, primary_key=True))
    tags = records.RecordTable(table, Tag, key=["label"])
    assert tags.insert_params(1, Tag("bird")) == {"label": "bird", "dataset_id": 1}
    assert tags.key_params(1, "bird") == {"p_label": "bird", "p_dataset_id": 1}
