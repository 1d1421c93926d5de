"""The database tables (SQLAlchemy Core): the one place that says which columns exist.

Each table's rows are records (dataclasses) described once in records.py; a column added here
needs an Alembic revision in migrations/versions/ and a field in its record (a unit test checks
that the three agree).

`events` holds the log: `body` is the event's JSON exactly as hashed plus `integrity`. Every other
table, and the `review`/`target_*` columns of `events`, is derived state: a projection of the log
that `gonk-api verify` rebuilds from the log alone and compares.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    literal_column,
)

from ..domain.events import PENDING

metadata = MetaData()

NAME = String(255).with_variant(String(255, collation="C"), "postgresql")

# Counters, sizes and version numbers are 64-bit: objects pass 2 GiB, and a version number in a
# URL may be any integer up to 2**63 - 1 (PostgreSQL's INTEGER stops at 2**31 - 1). Dataset ids
# stay INTEGER so that SQLite's `id` remains its rowid.

users = Table(
    "users", metadata,
    Column("name", String(64), primary_key=True),
    # sha256 of the API key: keys are 256-bit random tokens, so a salt or slow hash adds nothing,
    # and a deterministic hash lets a request find its user with one indexed lookup.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    # an instance admin manages users over the API (`init` makes the first)
    Column("admin", Boolean, nullable=False, server_default=false()),
    # a deleted user keeps the row (their name stays in logs and is never given again); their
    # key_hash is replaced by one no key has (DELETED_KEY_HASH_PREFIX in storage/users.py)
    Column("deleted_at", String(32), nullable=True),
)

datasets = Table(
    "datasets", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    # The chain's head: integrity of the last event ("" before the first) and the event count.
    # Appends read and advance these under the dataset's write lock.
    Column("head_integrity", String(64), nullable=False, default=""),
    Column("event_count", BigInteger, nullable=False, default=0),
    Column("created_at", String(32), nullable=False),
)

events = Table(
    "events", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # 1, 2, 3... per dataset
    Column("uuid", String(36), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("integrity", String(64), nullable=False),
    # derived:
    Column("review", String(8), nullable=True),
    Column("target_uuid", String(36), nullable=True),
    Column("target_version", BigInteger, nullable=True),
    Column("reviewed_seq", BigInteger, nullable=True),  # the seq of the review that decided it
)
Index("events_by_target", events.c.dataset_id, events.c.target_uuid, events.c.target_version)
# The events awaiting review, in log order (GET /events?pending=true): a partial index, so it
# holds only pending events (an accept or reject takes the event out of it), and events that are
# never reviewed (owner changes, reviews) cost it nothing. A query uses it only when it states
# the same condition literally (storage/reads.py: AWAITING_REVIEW).
AWAITING_REVIEW = events.c.review == literal_column(f"'{PENDING}'")
Index("events_awaiting_review", events.c.dataset_id, events.c.seq,
      sqlite_where=AWAITING_REVIEW, postgresql_where=AWAITING_REVIEW)

items = Table(
    "items", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),  # object, schema, annotation
    Column("name", String(255), nullable=True),  # schemas only
    Column("created_seq", BigInteger, nullable=False),
    Column("versions", BigInteger, nullable=False),
)
Index("items_in_order", items.c.dataset_id, items.c.kind, items.c.created_seq)
Index("schemas_by_name", items.c.dataset_id, items.c.kind, items.c.name)

versions = Table(
    "versions", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("created_seq", BigInteger, nullable=False),  # the item's, for ordered status lists
    # Compared byte by byte (code point order) on every database, so that a prefix is a range
    # of the index below: SQLite's default, and PostgreSQL's "C" collation (a locale's collation
    # would put "a-b" between "ab" and "ac").
    Column("name", NAME, nullable=True),
    Column("format", String(255), nullable=True),
    Column("size", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("schema_uuid", String(36), nullable=True),
    Column("schema_version", BigInteger, nullable=True),
    # the status flags (SPEC section 6; named as in domain.rules.Version)
    Column("create_pending", Boolean, nullable=False),
    Column("create_rejected", Boolean, nullable=False),
    Column("delete_pending", Boolean, nullable=False),
    Column("delete_accepted", Boolean, nullable=False),
    # where in the log each flag changed (rules.Version; reads "as of" a point: reads.py)
    Column("added_seq", BigInteger, nullable=False),
    Column("reviewed_seq", BigInteger, nullable=True),
    Column("deleted_seq", BigInteger, nullable=True),
    Column("delete_requested_seq", BigInteger, nullable=True),
)
Index("versions_by_hash", versions.c.dataset_id, versions.c.kind, versions.c.hash)
Index("versions_in_order", versions.c.dataset_id, versions.c.kind, versions.c.created_seq,
      versions.c.version)
# Lists filtered by the newest version's name (exact: already in creation order; prefix: a range)
# and annotations by the schema their newest version uses.
# Partial: annotation versions have no name, and only annotation versions have a schema, so each
# index skips the rows it could never find (a comparison on the column implies IS NOT NULL, so
# both databases use them for the filters' queries).
Index("versions_by_name", versions.c.dataset_id, versions.c.kind, versions.c.name,
      versions.c.created_seq, sqlite_where=versions.c.name.isnot(None),
      postgresql_where=versions.c.name.isnot(None))
Index("versions_by_schema", versions.c.dataset_id, versions.c.schema_uuid, versions.c.created_seq,
      sqlite_where=versions.c.schema_uuid.isnot(None),
      postgresql_where=versions.c.schema_uuid.isnot(None))

annotation_links = Table(
    "annotation_links", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("annotation_uuid", String(36), primary_key=True),
    Column("object_uuid", String(36), primary_key=True),
    Column("object_version", BigInteger, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),  # order of object_identifiers in the event
)
# Covering (annotation_uuid included), so SQLite prefers it to walking the primary key.
Index("links_by_object", annotation_links.c.dataset_id, annotation_links.c.object_uuid,
      annotation_links.c.object_version, annotation_links.c.annotation_uuid)

owners = Table(
    "owners", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("username", String(64), primary_key=True),
    Column("rank", BigInteger, nullable=False),  # seq of the OwnerAddEvent: lower ranks higher
)

# Who may do what in a dataset besides its owners, derived from MemberSetEvent and
# MemberRemoveEvent; and its settings, from DatasetSettingsEvent (no row: the defaults,
# rules.Settings: internal, one reviewer enough).
members = Table(
    "members", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # viewer, annotator, reviewer
)
dataset_settings = Table(
    "dataset_settings", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("visibility", String(16), nullable=False),  # internal, private
    Column("require_other_reviewer", Boolean, nullable=False),
)

# The work queue (gonk/work_queue.py): who holds which task until when, and how objects are
# ordered and assigned. Operational state beside the log, not derived from it: a lease is
# not a change to the dataset (its result, an annotation or a review, is an event).
queue_leases = Table(
    "queue_leases", metadata,
    Column("id", String(36), primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("task", String(16), nullable=False),  # annotate, review
    # annotate: the object's uuid and version and the schema item's uuid; review: the event's
    # uuid, with version 0 and schema "" (so that the unique index below holds for both)
    Column("target_uuid", String(36), nullable=False),
    Column("target_version", BigInteger, nullable=False),
    Column("schema_uuid", String(36), nullable=False),
    Column("holder", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),  # seconds since the epoch (the server's clock)
)
# one live lease per task: a second claimer of the same task fails to insert (and moves on);
# an expired lease is deleted before the claim that would take its task. The only index on
# the table, so that lookups by task use it even before PostgreSQL has statistics (expired
# leases are found through its dataset_id prefix: a dataset has few leases at a time).
Index("one_lease_per_task", queue_leases.c.dataset_id, queue_leases.c.task,
      queue_leases.c.target_uuid, queue_leases.c.schema_uuid, unique=True)
object_queue = Table(
    "object_queue", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("object_uuid", String(36), primary_key=True),
    Column("priority", Float, nullable=False),  # higher first; objects without a row: 0
    Column("assignee", String(64), nullable=True),  # only they claim it
)
# (no other index on object_queue: its primary key is what a claim looks objects up by, and
# a second index starting with dataset_id invites PostgreSQL, with stale statistics, to look
# them up on that one instead)
# Expired leases are deleted by every claim: found by their end, not by reading every lease.
# Not starting with dataset_id, for the same reason: one_lease_per_task is the leases' lookup.
Index("leases_by_expiry", queue_leases.c.expires_at)
# Per schema, the object creation seq below which an annotate claim has nothing to find: every
# object created before it is annotated, leased, waiting on a review, or in object_queue (whose
# objects a claim reads separately). Claims raise it as they go, so a claim looks at the objects
# from there on instead of walking every object already done; whatever can make an object below
# it claimable again lowers it (storage/queue.py lists what). `generation` counts the lowerings:
# a claim raises it only if no lowering happened since the claim read it. Working state like
# the leases: not derived from the log, not copied; a missing row means 0.
annotate_floors = Table(
    "annotate_floors", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("schema_uuid", String(36), primary_key=True),
    Column("floor_seq", BigInteger, nullable=False),
    Column("generation", BigInteger, nullable=False),
)

# Releases are not derived from the log: each names a point of it (an event) and records what
# was there, so `verify` can prove the point and the content are still the same. They are never
# changed or deleted. `id` orders them (creation order, across datasets).
releases = Table(
    "releases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False),
    Column("author", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("event_seq", BigInteger, nullable=False),  # the point: 1-based position in the log
    Column("event_uuid", String(36), nullable=False),
    Column("event_integrity", String(64), nullable=False),
    Column("objects", BigInteger, nullable=False),
    Column("schemas", BigInteger, nullable=False),
    Column("annotations", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("stale_annotations", BigInteger, nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    # the dataset's signed checkpoint at the point (a C2SP signed note: log_signing.py); NULL
    # only between `migrate` adding the column and signing it, in the same command
    Column("checkpoint", Text, nullable=True),
)
Index("releases_by_name", releases.c.dataset_id, releases.c.name, unique=True)
Index("releases_in_order", releases.c.dataset_id, releases.c.id)

# How many labels of each class an annotation version holds, for annotations of a schema that
# declares a label kind (domain/label_kinds.py): what GET /datasets/D/stats sums without reading
# annotation bytes (gonk/stats.py). Written in the transaction of the annotation's create or
# update event, from the document the service already parsed; derived from the bytes, not from
# the log alone, so `verify` recomputes it from the stored bytes (not through the rules).
# `label_json` is the label as a JSON string (RFC 8259), so that any label stores on every
# database (PostgreSQL refuses NUL in text; a JSON string may hold a lone surrogate); it is in
# no index (a label may be long: PostgreSQL's index entries are limited to a third of a page).
annotation_labels = Table(
    "annotation_labels", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("annotation_uuid", String(36), primary_key=True),
    Column("annotation_version", BigInteger, primary_key=True, autoincrement=False),
    Column("position", BigInteger, primary_key=True, autoincrement=False),  # 0, 1, ... per version
    Column("kind", String(32), nullable=False),  # the label kind the schema version declares
    Column("label_json", Text, nullable=False),
    Column("count", BigInteger, nullable=False),
    # SQLite: the rows live in the primary key's order (no separate rowid table), so the
    # statistics' lookups by annotation version read them at once
    sqlite_with_rowid=False,
)

# Each dataset's Merkle tree over its events (RFC 9162; the math is domain/merkle.py): the hash
# of every perfect subtree, node (level, position) covering the 2**level events from
# position * 2**level on (leaf n is the event of seq n + 1). Written with the event, in its
# transaction, under the dataset's write lock: an append adds its leaf and the subtrees it
# completes, and nothing is ever changed. Derived from the log; `verify` recomputes every node.
merkle_nodes = Table(
    "merkle_nodes", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

# The installation's log signing key (Ed25519), made by `init` or `migrate`: it signs every
# dataset's checkpoints (log_signing.py). `origin` is the key's name in signed notes and the
# start of every dataset's checkpoint origin (<origin>/datasets/<name>). The newest row signs;
# the private key is never served. One row, as a rule.
log_keys = Table(
    "log_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("origin", String(255), nullable=False),
    Column("private_key", LargeBinary(32), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("created_at", String(32), nullable=False),
)

DERIVED_TABLES = (items, versions, annotation_links, owners)
