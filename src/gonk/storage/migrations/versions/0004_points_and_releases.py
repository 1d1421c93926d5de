"""Reads "as of" any point of the log, and releases.

`versions` gains the positions in the log (event seq) at which each status flag changed:
`added_seq` (its create or update event), `reviewed_seq` (the review that accepted or rejected
that event), `deleted_seq` (the review that accepted its deletion) and `delete_requested_seq`
(its first delete event); `events` gains `reviewed_seq` (the review that decided a content
event). With them a version's status at any earlier point is one condition on its row.

They are filled from the log itself: each dataset's events are read once, in log order, and the
positions written in batches. (Only the log is read: the flags already stored are not trusted
for this, and `gonk-api verify` afterwards rebuilds every column from the log and compares.)

`releases` is new and starts empty.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VERSION_COLUMNS = ["added_seq", "reviewed_seq", "deleted_seq", "delete_requested_seq"]
CREATES = {"ObjectCreateEvent", "ObjectUpdateEvent", "AnnotationCreateEvent",
           "AnnotationUpdateEvent"}
DELETES = {"ObjectDeleteEvent", "AnnotationDeleteEvent"}
REVIEWS = {"ReviewAcceptEvent": True, "ReviewRejectEvent": False}
BATCH = 1000


def upgrade() -> None:
    # NOT NULL needs a value for the rows already there; every row gets its own below.
    op.add_column("versions", sa.Column("added_seq", sa.BigInteger, nullable=False,
                                        server_default="0"))
    for name in VERSION_COLUMNS[1:]:
        op.add_column("versions", sa.Column(name, sa.BigInteger, nullable=True))
    op.add_column("events", sa.Column("reviewed_seq", sa.BigInteger, nullable=True))
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.Column("event_uuid", sa.String(36), nullable=False),
        sa.Column("event_integrity", sa.String(64), nullable=False),
        sa.Column("objects", sa.BigInteger, nullable=False),
        sa.Column("schemas", sa.BigInteger, nullable=False),
        sa.Column("annotations", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("stale_annotations", sa.BigInteger, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
    )
    op.create_index("releases_by_name", "releases", ["dataset_id", "name"], unique=True)
    op.create_index("releases_in_order", "releases", ["dataset_id", "id"])
    conn = op.get_bind()
    for (dataset_id,) in conn.execute(sa.text("SELECT id FROM datasets ORDER BY id")).all():
        _fill(conn, dataset_id)
    if conn.dialect.name == "postgresql":
        op.alter_column("versions", "added_seq", server_default=None)


def _fill(conn: sa.Connection, dataset_id: int) -> None:
    """Replay one dataset's log for the positions (see the module's docstring)."""
    targets: dict[str, tuple[str, tuple[str, int]]] = {}  # event uuid -> (type, version)
    versions: dict[tuple[str, int], dict[str, Any]] = {}
    reviewed: list[dict[str, Any]] = []
    # yield_per for this statement only: Connection.execution_options() would set it on the
    # whole connection, and PostgreSQL refuses the executemany of _write on a server-side cursor
    events = conn.execute(sa.text(
        "SELECT seq, type, body FROM events WHERE dataset_id = :d ORDER BY seq"),
        {"d": dataset_id}, execution_options={"yield_per": BATCH})
    for seq, event_type, body in events:
        event = json.loads(body)
        if event_type in CREATES:
            meta = event["object" if event_type.startswith("Object") else "annotation"]
            key = (_uuid(meta["uuid"]), int(meta["version"]))
            versions[key] = {"added_seq": seq, "reviewed_seq": None, "deleted_seq": None,
                             "delete_requested_seq": None}
            targets[_uuid(event["uuid"])] = (event_type, key)
        elif event_type in DELETES:
            ident = event["object_identifier" if event_type == "ObjectDeleteEvent"
                          else "annotation_identifier"]
            key = (_uuid(ident["uuid"]), int(ident["version"]))
            if versions[key]["delete_requested_seq"] is None:
                versions[key]["delete_requested_seq"] = seq
            targets[_uuid(event["uuid"])] = (event_type, key)
        elif event_type in REVIEWS:
            target_uuid = _uuid(event["event_uuid"])
            target_type, key = targets[target_uuid]
            reviewed.append({"d": dataset_id, "u": target_uuid, "s": seq})
            if target_type in CREATES:
                versions[key]["reviewed_seq"] = seq
            elif REVIEWS[event_type]:
                versions[key]["deleted_seq"] = seq
    _write(conn, sa.text(
        "UPDATE versions SET added_seq = :added_seq, reviewed_seq = :reviewed_seq, "
        "deleted_seq = :deleted_seq, delete_requested_seq = :delete_requested_seq "
        "WHERE dataset_id = :d AND uuid = :u AND version = :v"),
        [{"d": dataset_id, "u": key[0], "v": key[1], **values}
         for key, values in versions.items()])
    _write(conn, sa.text("UPDATE events SET reviewed_seq = :s WHERE dataset_id = :d AND uuid = :u"),
           reviewed)
    missed = conn.execute(sa.text(
        "SELECT count(*) FROM versions WHERE dataset_id = :d AND added_seq = 0"),
        {"d": dataset_id}).scalar()
    if missed:  # a version no create or update event of the log made: stop, change nothing
        raise RuntimeError(f"dataset {dataset_id}: {missed} stored versions match no create or "
                           "update event of its log; run `gonk-api verify` with the previous "
                           "version of Gonk to find out why")


def _uuid(text: str) -> str:
    """As the rules store identifiers (domain.validation.parse_uuid): canonical lowercase."""
    return text.lower()


def _write(conn: sa.Connection, statement: sa.TextClause, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        conn.execute(statement, rows[start:start + BATCH])


def downgrade() -> None:
    op.drop_index("releases_in_order", table_name="releases")
    op.drop_index("releases_by_name", table_name="releases")
    op.drop_table("releases")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("reviewed_seq")
    with op.batch_alter_table("versions") as batch:
        for name in VERSION_COLUMNS:
            batch.drop_column(name)
