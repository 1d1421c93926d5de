"""Dataset statistics at every point of random histories, checked against a replay
(property-based, hypothesis): the histories of test_points_property.py (creates, updates,
deletes, accepts and rejects of objects, schemas and annotations through gonk.service), with
detection schemas (label kind) beside a plain one and documents holding repeated labels. At
every point p, GET /datasets/D/stats?as_of=<event #p> must equal what the replay of the first p
events gives by the definitions (gonk/stats.py): each item by its newest version's status
words, the content's bytes, its annotated objects, and its annotations' labels."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any
from unittest import mock

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from gonk import service
from gonk.domain import label_kinds, rules
from gonk.domain.memory import MemoryState
from gonk.installation import Installation
from gonk.stats import dataset_stats
from gonk.verify import verify_dataset
from tests.integration import test_points_property as history
from tests.integration.test_points_property import (
    AUTHOR,
    SLOW,
    Ledger,
    apply_operation,
    content,
    links,
    replay,
    stored_log,
)

DETECTION = label_kinds.template(label_kinds.DETECTION)
SCHEMA_DOCS = [{**DETECTION, "title": "boxes"}, {**DETECTION, "title": "boxes, again"},
               {"type": "object", "title": "plain"}, {**DETECTION, "title": "boxes 3"}]
SCHEMA_BODIES = [json.dumps(doc).encode() for doc in SCHEMA_DOCS]
LABEL_SETS = [["cat", "cat", "dog"], ["dog"], ["bird", "cat", "x\x00y"], []]
DOCS = [{"boxes": [{"label": label, "bbox": [0, 0, 1, 1]} for label in labels]}
        for labels in LABEL_SETS]
DOCUMENTS = [json.dumps(doc).encode() for doc in DOCS]
# test_points_property's operations, with more annotations and reviews: most histories then
# reach annotations in the content, with labels
OPERATIONS = (["create_object"] * 3 + ["update_object", "delete_object", "create_schema",
                                       "update_schema", "deprecate_schema"]
              + ["create_annotation"] * 4 + ["update_annotation"] * 2 + ["delete_annotation"]
              + ["review"] * 16)
OPERATION = st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 30), st.integers(0, 30),
                      st.integers(0, 30), st.booleans())
HISTORY = st.lists(OPERATION, min_size=20, max_size=60)
# One history that surely reaches labels: each review accepts the only event pending then
ACCEPTED = ("review", 0, 0, 1, True)
LABELLED = [("create_schema", 0, 0, 0, False), ACCEPTED, ("create_object", 0, 0, 0, False),
            ACCEPTED, ("create_annotation", 0, 0, 0, False), ACCEPTED,
            ("create_object", 1, 0, 0, False), ACCEPTED, ("create_annotation", 0, 1, 0, True),
            ACCEPTED, ("update_annotation", 0, 0, 1, False), ACCEPTED,
            ("update_object", 0, 0, 0, False), ACCEPTED, ("delete_annotation", 1, 0, 0, False),
            ACCEPTED]
SHORT_HISTORY = st.lists(OPERATION, min_size=15, max_size=30)
BY_HASH: dict[str, Any] = {
    hashlib.sha256(body).hexdigest(): doc
    for body, doc in [*zip(SCHEMA_BODIES, SCHEMA_DOCS, strict=True),
                      *zip(DOCUMENTS, DOCS, strict=True)]}
"""The documents of the schemas and annotations a history stores, by their bytes' sha256."""


def expected_stats(state: MemoryState) -> dict[str, Any]:
    """The statistics of a replayed state, by the definitions."""
    statuses: dict[str, Counter[str]] = {kind: Counter() for kind in history.KINDS}
    for item in state.items.values():
        newest = state.versions[(item.uuid, item.versions - 1)]
        statuses[item.kind].update(newest.status_words())
    shown = {}
    for kind in history.KINDS:
        words = {word: statuses[kind][word] for word in history.STATUSES}
        if kind == rules.SCHEMA:
            words["deprecated"] = words.pop("deleted")
        shown[kind] = words
    found = content(state)
    annotated = set()
    labels: Counter[tuple[str, str, str]] = Counter()
    for version in found.values():
        if version.kind != rules.ANNOTATION:
            continue
        annotated.update(uuid for uuid, _ in links(state, version.uuid))
        schema = state.versions[(version.schema_uuid, version.schema_version)]
        kind = label_kinds.declared_kind(BY_HASH[schema.hash])
        if kind is not None:
            name = state.items[version.schema_uuid].name
            for label, count in label_kinds.label_counts(kind, BY_HASH[version.hash]).items():
                labels[(name, kind, label)] += count
    return {
        "objects": shown[rules.OBJECT], "schemas": shown[rules.SCHEMA],
        "annotations": shown[rules.ANNOTATION],
        "bytes": sum(version.size for version in found.values()),
        "annotated_objects": len(annotated),
        "labels": [{"schema": schema, "kind": kind, "label": label, "count": count}
                   for (schema, kind, label), count in sorted(
                       labels.items(), key=lambda e: (-e[1], e[0][0], e[0][2], e[0][1]))],
    }


def run_history(installation: Installation, operations: list[tuple[str, int, int, int, bool]]
                ) -> None:
    dataset = f"stats-{next(history._datasets)}"
    service.create_dataset(installation, AUTHOR, dataset)
    ledger = Ledger()
    with mock.patch.object(history, "SCHEMA_BODIES", SCHEMA_BODIES), \
            mock.patch.object(history, "DOCUMENTS", DOCUMENTS):
        for op in operations:
            apply_operation(installation, dataset, ledger, op)
    log = stored_log(installation, dataset)
    states = replay(log)
    labelled = 0
    for p in range(1, len(log) + 1):
        stored = json.loads(log[p - 1])
        found = dataset_stats(installation, dataset, stored["uuid"])
        assert found.pop("at") == {"uuid": stored["uuid"], "index": p - 1,
                                   "integrity": stored["integrity"]}
        assert found.pop("dataset") == dataset
        assert found == expected_stats(states[p]), f"at #{p}"
        labelled += bool(found["labels"])
    final = expected_stats(states[-1])
    event(f"points with labels: {'some' if labelled else 'none'}; annotated objects at the "
          f"end: {'some' if final['annotated_objects'] else 'none'}")
    now = dataset_stats(installation, dataset)
    assert now["at"]["index"] == len(log) - 1
    assert {k: v for k, v in now.items() if k not in ("at", "dataset")} == final
    verdict = verify_dataset(installation, dataset)
    assert verdict.ok, verdict.message


@pytest.mark.parametrize("storage_kind", ["sqlite-files"], indirect=True)
@settings(SLOW, max_examples=10)
@given(operations=HISTORY)
@example(operations=LABELLED)
def test_stats_at_every_point_equal_the_replay(
        installation: Installation, operations: list[tuple[str, int, int, int, bool]]) -> None:
    run_history(installation, operations)


@pytest.mark.parametrize("storage_kind", ["postgres-files"], indirect=True)
@settings(SLOW, max_examples=3)
@given(operations=SHORT_HISTORY)
def test_stats_at_every_point_equal_the_replay_on_postgres(
        installation: Installation, operations: list[tuple[str, int, int, int, bool]]) -> None:
    run_history(installation, operations)
