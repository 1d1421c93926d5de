"""`gonk-api migrate` (an installation made before migrations existed, with the early blob
layout, comes out current with every event and byte) and `gonk-api copy` (a whole installation
moved to other storage, chains verified on arrival, keys still working)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gonk import service, work_queue
from gonk.installation import Installation
from gonk.storage import datasets, queue, revision
from gonk.storage import tables as t
from gonk.users import add_user, is_admin, user_for_key
from tests.support import postgres

LABEL = json.dumps({"type": "object", "properties": {"label": {"type": "string"}},
                    "required": ["label"]}).encode()


def _fill(installation: Installation) -> dict[str, Any]:
    """Two datasets with schemas, objects (one updated, one deleted), annotations, accepts,
    a reject and an owner change; returns the users' keys and the bytes stored."""
    keys = {"alice": add_user(installation, "alice"), "bob": add_user(installation, "bob")}
    stored: list[bytes] = [LABEL]
    for dataset in ("birds", "cars"):
        service.create_dataset(installation, "alice", dataset)
        service.add_owner(installation, dataset, "alice", "bob")
        service.create_schema(installation, dataset, "alice", "schema-label", LABEL)
        uuids = []
        for i in range(5):
            data = os.urandom(100 + i) + dataset.encode()
            stored.append(data)
            uuids.append(service.create_object(installation, dataset, "bob", f"{i}.bin",
                                               "application/octet-stream", data)["uuid"])
        update = f"updated {dataset}".encode()
        stored.append(update)
        service.update_object(installation, dataset, "bob", uuids[0], "0.bin", "text/plain", update)
        doc = json.dumps({"label": dataset}).encode()
        stored.append(doc)
        service.create_annotation(installation, dataset, "bob",
                                  {"name": "schema-label", "version": 0},
                                  [{"uuid": uuids[1], "version": 0}], doc)
        with installation.db.read() as conn:
            pending = list(conn.execute(
                select(t.events.c.uuid)
                .join(t.datasets, t.datasets.c.id == t.events.c.dataset_id)
                .where(t.datasets.c.name == dataset, t.events.c.type == "ObjectCreateEvent")
                .order_by(t.events.c.seq)).scalars())
        service.review(installation, dataset, "alice", pending[-1], True)
        service.review(installation, dataset, "alice", pending[-2], False)
        service.delete_object(installation, dataset, "bob", uuids[2], 0)
        service.remove_owner(installation, dataset, "alice", "bob")
        work_queue.set_priority(installation, dataset, "alice", uuids[3], 2.5)
        work_queue.set_assignee(installation, dataset, "alice", uuids[4], "bob")
    return {"keys": keys, "bytes": stored}


def _log(installation: Installation) -> list[tuple[str, int, str, str]]:
    with installation.db.read() as conn:
        rows = conn.execute(select(t.datasets.c.name, t.events.c.seq, t.events.c.body,
                                   t.events.c.integrity)
                            .join(t.datasets, t.datasets.c.id == t.events.c.dataset_id)
                            .order_by(t.datasets.c.name, t.events.c.seq)).all()
    return [tuple(row) for row in rows]


def _make_legacy(data_dir: Path) -> None:
    """Turn a current SQLite installation into what early builds left: no alembic_version,
    the narrow links index, blobs under blobs/ab/cd/<sha256>."""
    import sqlite3

    db = sqlite3.connect(data_dir / "gonk.db")
    # the tables as Gonk 0.2 made them before migrations existed: revision 0001's layout
    db.execute("DROP TABLE merkle_nodes")  # from 0010
    db.execute("DROP TABLE log_keys")
    db.execute("DROP TABLE annotate_floors")  # from 0009
    db.execute("DROP TABLE object_queue")  # from 0008
    db.execute("DROP TABLE queue_leases")
    db.execute("DROP TABLE dataset_settings")  # from 0007
    db.execute("DROP TABLE members")
    db.execute("ALTER TABLE users DROP COLUMN deleted_at")  # from 0006
    db.execute("ALTER TABLE users DROP COLUMN admin")
    db.execute("DROP TABLE annotation_labels")  # from 0005
    db.execute("DROP TABLE releases")  # from 0004
    for column in ("added_seq", "reviewed_seq", "deleted_seq", "delete_requested_seq"):
        db.execute(f"ALTER TABLE versions DROP COLUMN {column}")
    db.execute("ALTER TABLE events DROP COLUMN reviewed_seq")
    for short, spelled_out in [("cp", "create_pending"), ("cr", "create_rejected"),
                               ("dp", "delete_pending"), ("da", "delete_accepted")]:
        db.execute(f"ALTER TABLE versions RENAME COLUMN {spelled_out} TO {short}")
    db.execute("DROP TABLE alembic_version")
    for index in ("versions_by_name", "versions_by_schema", "events_awaiting_review"):  # from 0003
        db.execute(f"DROP INDEX {index}")
    db.execute("DROP INDEX links_by_object")
    db.execute("CREATE INDEX links_by_object ON annotation_links "
               "(dataset_id, object_uuid, object_version)")
    db.commit()
    db.close()
    blobs = data_dir / "blobs"
    for path in list(blobs.glob("??/*")):
        if len(path.name) == 64:
            (path.parent / path.name[2:4]).mkdir(exist_ok=True)
            os.replace(path, path.parent / path.name[2:4] / path.name)


def test_migrate_adopts_an_installation_from_before_migrations(tmp_path: Path,
                                                               gonk_proc: Any) -> None:
    data_dir = tmp_path / "data"
    installation = Installation.create(data_dir)
    filled = _fill(installation)
    log_before = _log(installation)
    installation.close()
    _make_legacy(data_dir)

    refused = gonk_proc.run_cli("verify", data_dir=data_dir)
    assert refused.returncode == 1 and "gonk-api migrate" in refused.stderr

    migrated = gonk_proc.run_cli("migrate", data_dir=data_dir)
    assert migrated.returncode == 0, migrated.stderr
    assert ("upgraded from unversioned to revision "
            f"{revision.head_revision()}") in migrated.stdout
    assert f"moved {len(set(filled['bytes']))} files" in migrated.stdout

    again = gonk_proc.run_cli("migrate", data_dir=data_dir)
    assert "already at revision" in again.stdout and "already in the current" in again.stdout

    verified = gonk_proc.run_cli("verify", data_dir=data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    installation = Installation.open(data_dir)
    try:
        assert revision.status(installation.db) == revision.CURRENT
        assert _log(installation) == log_before
        # the first user (the one `init` made) became the instance admin, no one else
        assert is_admin(installation, "alice") and not is_admin(installation, "bob")
        for data in filled["bytes"]:
            digest = hashlib.sha256(data).hexdigest()
            assert installation.blobs.get(digest) == data
        assert not list((data_dir / "blobs").glob("??/??"))
    finally:
        installation.close()


@pytest.fixture
def postgres_url() -> Any:
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


def test_copy_moves_everything_and_verifies(tmp_path: Path, gonk_proc: Any,
                                            postgres_url: str) -> None:
    source = Installation.create(tmp_path / "data")
    filled = _fill(source)
    log_before = _log(source)
    source.close()
    target_blobs = tmp_path / "target-blobs"

    copied = gonk_proc.run_cli("copy", "--to-database", postgres_url, "--to-blobs",
                               f"file://{target_blobs}", data_dir=tmp_path / "data",
                               timeout=300)
    assert copied.returncode == 0, copied.stdout + copied.stderr
    assert "birds: OK" in copied.stdout and "cars: OK" in copied.stdout
    assert "Copied 2 users, 2 datasets" in copied.stdout

    target = Installation.open(tmp_path / "elsewhere", postgres_url, f"file://{target_blobs}")
    try:
        assert _log(target) == log_before  # every event, byte for byte, same chain
        for user, key in filled["keys"].items():
            assert user_for_key(target, key) == user
        for data in filled["bytes"]:
            digest = hashlib.sha256(data).hexdigest()
            assert target.blobs.get(digest) == data
        for dataset in ("birds", "cars"):  # the work queue's priorities and assignees
            with target.db.read() as conn:
                queued = queue.queued_objects(conn, datasets.get(conn, dataset).id)
            assert sorted((q.priority, q.assignee) for q in queued) == [(0.0, "bob"),
                                                                         (2.5, None)]
    finally:
        target.close()
    env = gonk_proc.clean_env(GONK_DATABASE_URL=postgres_url,
                              GONK_BLOB_URL=f"file://{target_blobs}")
    verified = gonk_proc.run_cli("verify", data_dir=tmp_path / "nowhere", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # a second copy into the same (no longer empty) target is refused, changing nothing
    refused = gonk_proc.run_cli("copy", "--to-database", postgres_url, "--to-blobs",
                                f"file://{target_blobs}", data_dir=tmp_path / "data")
    assert refused.returncode == 1 and "already initialised" in refused.stderr


def test_copy_stops_at_a_broken_chain(tmp_path: Path, gonk_proc: Any, postgres_url: str) -> None:
    source = Installation.create(tmp_path / "data")
    _fill(source)
    with source.db.write() as conn:  # tamper with one stored event
        row = conn.execute(select(t.events.c.dataset_id, t.events.c.seq, t.events.c.body)
                           .order_by(t.events.c.seq.desc()).limit(1)).one()
        body = json.loads(row.body)
        body["author"] = "mallory"
        conn.execute(t.events.update().where(t.events.c.dataset_id == row.dataset_id,
                                             t.events.c.seq == row.seq)
                     .values(body=json.dumps(body)))
    source.close()
    copied = gonk_proc.run_cli("copy", "--to-database", postgres_url, "--to-blobs",
                               f"file://{tmp_path / 'target'}", data_dir=tmp_path / "data")
    assert copied.returncode == 1
    assert "copy stopped" in copied.stderr and "chain is broken" in copied.stderr


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_migrate_renames_the_status_flags_of_a_revision_0001_installation(
        tmp_path: Path, gonk_proc: Any, database: str, request: pytest.FixtureRequest) -> None:
    """An installation of the previous release (revision 0001, flags named cp/cr/dp/da) comes out
    of `migrate` at the newest revision with every version's flags as they were."""
    from alembic import command
    from sqlalchemy import inspect

    url = request.getfixturevalue("postgres_url") if database == "postgres" else None
    data_dir = tmp_path / "data"
    installation = Installation.create(data_dir, url)
    _fill(installation)
    with installation.db.read() as conn:
        flags_before = conn.execute(select(t.versions).order_by(
            t.versions.c.dataset_id, t.versions.c.uuid, t.versions.c.version)).all()
    with installation.db.write() as conn:
        command.downgrade(revision._config(conn), "0001")
    with installation.db.read() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("versions")}
    assert {"cp", "cr", "dp", "da"} <= columns and "create_pending" not in columns
    assert revision.status(installation.db) == revision.OUTDATED
    installation.close()

    env = gonk_proc.clean_env(**({"GONK_DATABASE_URL": url} if url else {}))
    refused = gonk_proc.run_cli("verify", data_dir=data_dir, env=env)
    assert refused.returncode == 1 and "gonk-api migrate" in refused.stderr
    migrated = gonk_proc.run_cli("migrate", data_dir=data_dir, env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert f"upgraded from 0001 to revision {revision.head_revision()}" in migrated.stdout
    verified = gonk_proc.run_cli("verify", data_dir=data_dir, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    installation = Installation.open(data_dir, url)
    try:
        with installation.db.read() as conn:
            flags_after = conn.execute(select(t.versions).order_by(
                t.versions.c.dataset_id, t.versions.c.uuid, t.versions.c.version)).all()
        assert [tuple(row) for row in flags_after] == [tuple(row) for row in flags_before]
        assert any(row.delete_pending for row in flags_after)
        assert any(row.create_rejected for row in flags_after)
    finally:
        installation.close()


def test_the_newest_revision_by_file_name_is_alembics_head() -> None:
    """Commands find the newest revision from the migration files' numbers, without Alembic."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(revision._config())
    assert revision.head_revision() == script.get_current_head()
    numbers = sorted(rev.revision for rev in script.walk_revisions())
    assert numbers == [f"{n:04d}" for n in range(1, len(numbers) + 1)]


def test_migrate_from_0009_builds_the_trees_makes_the_key_and_signs_old_releases(
        tmp_path: Path) -> None:
    """An installation from before the verifiable log (revision 0009: no trees, no key, releases
    without checkpoints) comes out of `migrate` with each dataset's tree, a key of the origin
    asked for, and each release's signed checkpoint, and verifies."""
    from alembic import command

    from gonk import log_signing, releases
    from gonk.client.log_proofs import VerifierKey
    from gonk.migration import migrate_installation
    from gonk.verify import verify_dataset

    installation = Installation.create(tmp_path / "data", log_origin="before.example")
    _fill(installation)
    made = releases.create_release(installation, "birds", "alice", "v1", "", None)
    with installation.db.write() as conn:
        command.downgrade(revision._config(conn), "0009")
    lines = list(migrate_installation(installation, "gonk.example.org"))
    assert any("origin gonk.example.org" in line for line in lines), lines
    assert "Releases: 1 signed checkpoints recorded." in lines
    with installation.db.read() as conn:
        key = VerifierKey.parse(log_signing.verifier_key(log_signing.current_key(conn)))
    assert key.name == "gonk.example.org"
    release = releases.get_release(installation, "birds", "v1")
    checkpoint = key.open_checkpoint(release["checkpoint"])
    assert (checkpoint.origin, checkpoint.size) == ("gonk.example.org/datasets/birds",
                                                    made["at"]["index"] + 1)
    for dataset in ("birds", "cars"):
        verdict = verify_dataset(installation, dataset)
        assert verdict.ok and "Merkle tree matches" in verdict.message, verdict.message
    # running it again changes nothing: the same key, the same checkpoint
    assert not any("Log signing key" in line for line in migrate_installation(installation))
    assert releases.get_release(installation, "birds", "v1")["checkpoint"] == \
        release["checkpoint"]
    installation.close()
