"""The client's main flows on every storage combination (SQLite or PostgreSQL, local files or
S3): one server per kind for this module, one compact walk through each: a dataset, uploads,
a schema and an annotation, the review queue, a release pulled into an empty cache and again
from a warm one, samples, a diff, the chain, and the verifiable log (a release's checkpoint,
proofs, the monitor). (The rest of tests/client runs on SQLite and
files only: the client's code is the same whatever the server stores in.)"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

import gonk
from tests.client.conftest import make_client, requests_seen
from tests.support.http import LABEL_SCHEMA
from tests.support.storage import STORAGE_KINDS, running_site


@pytest.fixture(scope="module", params=STORAGE_KINDS)
def kind_site(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    data = tmp_path_factory.mktemp(f"client-{request.param}") / "data"
    with running_site(data, request.param, request, ["alice"]) as running:
        yield running


def test_the_main_flows(kind_site: SimpleNamespace, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        (photos / f"{i}.jpg").write_bytes(b"\xff\xd8\xff" + bytes([i]) * 1000)
    with make_client(kind_site.base, kind_site.key, tmp_path / "cache") as client:
        birds = client.create_dataset("birds")
        assert birds.import_folder(photos).imported == 3
        assert birds.import_folder(photos).skipped == 3
        note = birds.upload(b"two birds", "notes.txt", "text/plain")
        birds.schemas.create("schema-label", LABEL_SCHEMA)
        birds.annotations.create("schema-label", 0, [note], {"label": "birds"})
        pending = list(birds.pending())
        assert [c.kind for c in pending] == ["object"] * 4 + ["schema", "annotation"]
        for change in pending:
            birds.accept(change)
        release = birds.releases.create("v1", "four files")
        assert release.info().counts["objects"] == 4

        cold = release.pull(tmp_path / "v1")
        assert (cold.downloaded, cold.written, cold.annotations) == (6, 5, 1)
        seen = requests_seen(client)
        warm = release.pull(tmp_path / "v1-again")
        assert (warm.downloaded, warm.from_cache) == (0, 6)
        assert [path for _, path in seen if path.endswith(("/bytes", "/manifest"))] == []
        for i in range(3):
            assert (tmp_path / "v1-again" / "objects" / f"{i}.jpg").read_bytes() == \
                (photos / f"{i}.jpg").read_bytes()
        samples = {s.name: s for s in release.samples()}
        assert [a.document for a in samples["notes.txt"].annotations] == [{"label": "birds"}]
        assert hashlib.sha256(samples["0.jpg"].path.read_bytes()).hexdigest() == \
            samples["0.jpg"].sha256

        birds.objects.update(note.uuid, b"three birds")
        [update] = list(birds.pending())
        assert (update.action, update.version.meta.version) == ("update", 1)
        birds.accept(update)
        assert [(c.change, c.kind) for c in birds.diff("v1")] == [("changed", "object"),
                                                                  ("removed", "annotation")]
        assert birds.verify_chain().events == 15  # owner, 6 creates, update, 7 accepts
        assert birds.objects.read(note.uuid, 0, as_of="v1") == b"two birds"
        with pytest.raises(gonk.NotFound):
            birds.objects.read(note.uuid, 1, as_of="v1")

        # the verifiable log: the release's checkpoint, then the monitor as the log grows
        key = client.log_key()  # (a test may trust the server's word for its key)
        at_release = key.open_checkpoint(release.info().checkpoint or "")
        assert at_release.size == 13 and birds.checkpoint(key).size == 15
        for event in list(birds.events.list())[::4]:
            birds.verify_event(event, key)
        state = tmp_path / "monitor.json"
        first = birds.monitor(state, key, watch=[update.event.uuid])
        assert (first.previous_size, first.size, first.audited, first.watched) == (None, 15,
                                                                                   15, 1)
        birds.upload(b"four birds", "more.txt", "text/plain")
        grown = birds.monitor(state)
        assert (grown.previous_size, grown.size, grown.audited) == (15, 16, 1)
