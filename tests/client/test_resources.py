"""gonk.Client against a live server (SQLite and local files): every resource and method,
paging across pages, reads as of a point, uploads and verified downloads, the review queue,
releases, diffs, stats, the chain, and the errors each refusal raises."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import gonk
from gonk.client import Dataset
from tests.client.conftest import requests_seen
from tests.support.http import LABEL_SCHEMA

pytestmark = pytest.mark.xdist_group("client")


def test_the_client_reads_its_address_and_key_from_the_environment(
        site: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GONK_URL", raising=False)
    with pytest.raises(ValueError, match="GONK_URL"):
        gonk.Client()
    monkeypatch.setenv("GONK_URL", site.base + "/")
    monkeypatch.setenv("GONK_API_KEY", site.key)
    with gonk.Client() as client:
        assert client.url == site.base
        assert client.health()["status"] == "ok"
        assert isinstance(client.datasets(), list)
    monkeypatch.setenv("GONK_API_KEY", "wrong")
    with gonk.Client() as client, pytest.raises(gonk.Unauthorized) as refused:
        client.datasets()
    assert refused.value.status == 401 and refused.value.message == "Unknown API key."
    assert str(refused.value) == "401: Unknown API key."


def test_the_exceptions_are_the_clients_own() -> None:
    from gonk.domain import errors as domain

    for name in ("GonkError", "NotFound", "Conflict", "Invalid", "Forbidden", "Unauthorized",
                 "Unavailable"):
        exported = getattr(gonk, name)
        assert exported.__module__ == "gonk.client.errors"
        assert issubclass(exported, gonk.GonkError)
        assert not issubclass(exported, domain.GonkError)
    assert "Dataset" in (gonk.Client.__doc__ or "") and "Conflict" in (gonk.Client.__doc__ or "")


def test_datasets_and_owners(client: gonk.Client, bob_client: gonk.Client,
                             ds: Dataset) -> None:
    assert ds.name in client.datasets() and ds.exists()
    assert not client.dataset("nope-nope").exists()
    with pytest.raises(gonk.Conflict):
        ds.create()
    assert ds.owners.list() == ["alice"]
    assert ds.owners.add("bob") == "bob"
    assert list(ds.owners) == ["alice", "bob"]
    with pytest.raises(gonk.Conflict):
        ds.owners.add("bob")
    with pytest.raises(gonk.NotFound):
        ds.owners.add("zed")
    assert ds.owners.remove("bob") == "bob"
    with pytest.raises(gonk.Forbidden) as forbidden:
        bob_client.dataset(ds.name).owners.add("bob")
    assert forbidden.value.status == 403
    with pytest.raises(gonk.Invalid) as invalid:
        client.dataset("-bad").owners.list()
    assert invalid.value.status == 400


def test_objects_page_by_themselves_and_read_as_of_a_point(client: gonk.Client,
                                                           ds: Dataset, tmp_path: Path) -> None:
    created = [ds.upload(f"bird {i}".encode(), f"2024/{i}.txt") for i in range(7)]
    created.append(ds.upload(b"a heron", "heron.txt", "text/x-heron"))
    seen = requests_seen(client)
    listed = list(ds.objects.list(page_size=3))
    assert [o.uuid for o in listed] == [c.uuid for c in created]
    assert [o.name for o in listed][-1] == "heron.txt" and listed[0].versions == 1
    assert len(seen) == 4  # three pages of 3, 3 and 2, then an empty one
    assert [o.name for o in ds.objects.list(prefix="2024/", page_size=2)] == [
        f"2024/{i}.txt" for i in range(7)]
    assert [o.uuid for o in ds.objects.list(name="heron.txt")] == [created[-1].uuid]
    pending = list(ds.objects.status("pending", page_size=3))
    assert [(v.uuid, v.version) for v in pending] == [(c.uuid, 0) for c in created]
    assert list(ds.objects.status("accepted")) == []
    with pytest.raises(gonk.Invalid) as bad_status:
        list(ds.objects.status("nice"))
    assert "valid_statuses" in bad_status.value.extra

    heron = created[-1]
    assert ds.objects.with_hash(hashlib.sha256(b"a heron").hexdigest()) == [
        gonk.client.VersionRef(heron.uuid, 0)]
    assert ds.objects.info(heron.uuid) == gonk.client.ItemInfo(heron.uuid, 1)
    loaded = ds.objects.load(heron.uuid, 0)
    assert loaded.data == b"a heron" and loaded.meta.format == "text/x-heron"
    assert loaded.meta.sha256 == hashlib.sha256(b"a heron").hexdigest()
    assert loaded.status == "pending" and loaded.events[0].type == "ObjectCreateEvent"
    bare = ds.objects.load(heron.uuid, 0, with_bytes=False)
    assert bare.data is None and bare.bytes_url and bare.bytes_url.endswith("/0/bytes")
    assert ds.objects.read(heron.uuid, 0) == b"a heron"
    target = ds.download(heron.uuid, 0, tmp_path / "out" / "heron.txt")
    assert target.read_bytes() == b"a heron"

    for event in ds.events.list(pending=True):
        ds.accept(event)
    release = ds.releases.create("v1", "eight birds")
    updated = ds.objects.update(heron.uuid, b"a grey heron")
    assert updated == gonk.client.VersionRef(heron.uuid, 1)
    assert ds.objects.load(heron.uuid, 1, with_bytes=False).meta.name == "heron.txt"
    deleted = ds.objects.delete(created[0].uuid, 0)
    assert deleted == gonk.client.VersionRef(created[0].uuid, 0)
    # as of v1: the first version only, nothing pending
    assert ds.objects.info(heron.uuid, as_of="v1").versions == 1
    assert ds.objects.info(heron.uuid).versions == 2
    assert ds.objects.read(heron.uuid, 0, as_of=release.name) == b"a heron"
    with pytest.raises(gonk.NotFound):
        ds.objects.load(heron.uuid, 1, as_of="v1")
    assert list(ds.objects.status("pending", as_of="v1")) == []
    assert len(list(ds.objects.status("pending"))) == 2
    assert len(list(ds.objects.list(as_of="v1", page_size=5))) == 8


def test_uploads_stream_bytes_paths_and_files(ds: Dataset, tmp_path: Path) -> None:
    photo = tmp_path / "owl.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    from_path = ds.upload(photo)
    meta = ds.objects.load(from_path.uuid, 0, with_bytes=False).meta
    assert (meta.name, meta.format, meta.size) == ("owl.png", "image/png", 108)
    from_file = ds.upload(io.BytesIO(b"x" * 5000), "stream.bin", "application/x-test")
    assert ds.objects.read(from_file.uuid, 0) == b"x" * 5000
    with open(tmp_path / "owl.png", "rb") as handle, pytest.raises(gonk.Conflict) as duplicate:
        ds.upload(handle, "again.png")
    assert duplicate.value.existing == {"uuid": from_path.uuid, "version": 0}
    assert duplicate.value.status == 409 and not from_path.existing
    read_end, write_end = os.pipe()  # a stream that cannot be rewound: sent once, chunked
    os.write(write_end, b"piped bytes")
    os.close(write_end)
    with open(read_end, "rb", buffering=0) as piped:
        from_pipe = ds.upload(piped, "piped.bin")
    assert ds.objects.read(from_pipe.uuid, 0) == b"piped bytes"
    empty = ds.upload(b"", "empty.txt")
    assert ds.objects.load(empty.uuid, 0).meta.size == 0
    again = ds.upload(photo, exist_ok=True)
    assert again == gonk.client.VersionRef(from_path.uuid, 0, existing=True)
    with pytest.raises(ValueError):
        ds.upload(b"no name")
    with pytest.raises(gonk.Invalid):
        ds.upload(b"bad name", "schema-nope")


def test_schemas_and_annotations(ds: Dataset) -> None:
    created = ds.schemas.create("schema-label", LABEL_SCHEMA)
    assert (created.name, created.versions) == ("schema-label", 1)
    assert [s.name for s in ds.schemas] == ["schema-label"]
    assert ds.schemas.info("schema-label") == created
    assert ds.schemas.document("schema-label", 0) == LABEL_SCHEMA
    assert ds.schemas.load("schema-label", 0).document() == LABEL_SCHEMA
    assert [s.name for s in ds.schemas.status("pending")] == ["schema-label"]
    with pytest.raises(gonk.Conflict) as taken:
        ds.schemas.create("schema-label", LABEL_SCHEMA)
    assert taken.value.existing == {"uuid": created.uuid, "versions": 1}
    with pytest.raises(gonk.Invalid) as not_a_schema:
        ds.schemas.create("schema-bad", {"type": 12})
    assert not_a_schema.value.status == 422 and not_a_schema.value.details
    assert isinstance(not_a_schema.value, gonk.client.DoesNotConform)
    with pytest.raises(gonk.client.TooLarge) as too_large:  # schemas: at most 4 MiB
        ds.schemas.create("schema-big", {"description": "x" * (4 * 1024**2)})
    assert too_large.value.status == 413

    owl = ds.upload(b"owl", "owl.jpg")
    note = ds.annotations.create("schema-label", 0, [owl], {"label": "owl"})
    assert note.version == 0
    with pytest.raises(gonk.Invalid) as nonconforming:
        ds.annotations.create("schema-label", 0, [(owl.uuid, 0)], {"label": 3})
    assert nonconforming.value.status == 422
    assert any(d.get("path") == "/label" for d in nonconforming.value.details)
    listed = list(ds.annotations.list(schema="schema-label"))
    assert [a.uuid for a in listed] == [note.uuid]
    assert listed[0].schema["name"] == "schema-label"
    loaded = ds.annotations.load(note.uuid, 0)
    assert loaded.document() == {"label": "owl"} and loaded.objects == [
        gonk.client.VersionRef(owl.uuid, 0)]
    assert ds.annotations.document(note.uuid, 0) == {"label": "owl"}
    assert ds.annotations.info(note.uuid).versions == 1
    assert ds.objects.load(owl.uuid, 0).annotations == [gonk.client.ItemInfo(note.uuid, 1)]
    assert ds.annotations.update(note.uuid, "schema-label", 0, {"label": "barn owl"}).version == 1
    assert ds.annotations.delete(note.uuid, 0).version == 0
    assert len(list(ds.annotations.status("pending"))) == 2
    assert ds.schemas.update("schema-label", {**LABEL_SCHEMA, "title": "t"}).versions == 2
    assert ds.schemas.delete("schema-label", 0).version == 0


def test_the_review_queue(client: gonk.Client, bob_client: gonk.Client, ds: Dataset) -> None:
    ds.schemas.create("schema-label", LABEL_SCHEMA)
    owl = ds.upload(b"owl", "owl.jpg")
    ds.annotations.create("schema-label", 0, [owl], {"label": "owl"})
    changes = list(ds.pending())
    assert [(c.kind, c.action) for c in changes] == [
        ("schema", "create"), ("object", "create"), ("annotation", "create")]
    assert changes[1].target == gonk.client.VersionRef(owl.uuid, 0)
    assert changes[1].version.meta.name == "owl.jpg" and changes[1].version.data is None
    assert changes[2].version.objects == [gonk.client.VersionRef(owl.uuid, 0)]
    with pytest.raises(gonk.Forbidden):
        bob_client.dataset(ds.name).accept(changes[0])
    assert ds.accept(changes[0]) == changes[0].event.uuid  # a PendingChange
    assert ds.events.accept(changes[1].event) == changes[1].event.uuid  # an Event
    assert ds.reject(changes[2].event.uuid) == changes[2].event.uuid  # a uuid
    with pytest.raises(gonk.Conflict, match="already reviewed"):
        ds.accept(changes[0])
    assert list(ds.pending()) == []
    ds.schemas.delete("schema-label", 0)
    ds.objects.delete(owl.uuid, 0)
    assert [(c.kind, c.action, c.version.meta.uuid) for c in ds.pending()] == [
        ("schema", "delete", changes[0].target.uuid), ("object", "delete", owl.uuid)]
    assert ds.annotations.load(changes[2].target.uuid, 0).status == "rejected"
    types = [e.type for e in ds.events]
    assert types.count("ReviewAcceptEvent") == 2 and types.count("ReviewRejectEvent") == 1


def test_releases_diffs_stats_and_the_chain(client: gonk.Client, ds: Dataset) -> None:
    for i in range(3):
        ds.upload(f"bird {i}".encode(), f"{i}.txt")
    for change in ds.pending():
        ds.accept(change)
    first = ds.releases.create("v1", "three birds")
    info = first.info()
    assert (info.name, info.description, info.author, info.counts["objects"]) == (
        "v1", "three birds", "alice", 3)
    ds.upload(b"bird 3", "3.txt")
    for change in ds.pending():
        ds.accept(change)
    ds.releases.create("v2")
    ds.releases.create("v3", at=info.at["uuid"])
    assert [r.name for r in ds.releases.list(page_size=1)] == ["v1", "v2", "v3"]
    assert ds.releases.get("v3").at == info.at
    with pytest.raises(gonk.NotFound):
        ds.releases.get("v9")
    lines = ds.release("v1").manifest()
    assert [line.name for line in lines] == ["0.txt", "1.txt", "2.txt"]
    assert lines[0].sha256 == hashlib.sha256(b"bird 0").hexdigest()

    changes = list(ds.diff("v1", "v2"))
    assert [(c.kind, c.change, (c.after or {}).get("name")) for c in changes] == [
        ("object", "added", "3.txt")]
    assert len(list(ds.diff(page_size=2))) == 4  # from the empty dataset, over two pages
    assert ds.stats().objects["accepted"] == 4
    assert ds.stats(as_of="v1").objects["accepted"] == 3 and ds.stats(as_of="v1").bytes == 18

    report = ds.verify_chain()
    assert report.events == len(list(ds.events)) == 9  # an owner, 4 creates, 4 accepts
    assert ds.verify_chain(as_of="v1").events == 7

    def tamper(response: Any, *args: Any, **kwargs: Any) -> Any:
        if response.request.url.split("?")[0].endswith("/events"):
            events = json.loads(response.content)
            for event in events:
                if event["type"] == "ObjectCreateEvent" and event["object"]["name"] == "1.txt":
                    event["author"] = "mallory"
            response._content = json.dumps(events).encode()
        return response

    client.http.session.hooks["response"].append(tamper)
    with pytest.raises(gonk.ChainBroken) as broken:
        ds.verify_chain()
    assert broken.value.event == next(e.uuid for e in ds.events
                                      if e.raw.get("object", {}).get("name") == "1.txt")


def test_import_folder_skips_what_is_there(ds: Dataset, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    (root / ".hidden").write_text("h")
    (root / "skip.tmp").write_text("t")
    (root / "schema-x.json").write_text("{}")
    first = ds.import_folder(root, exclude=["*.tmp"])
    assert (first.imported, first.skipped, len(first.unstorable), first.failed) == (2, 0, 1, [])
    assert sorted(o.name for o in ds.objects) == ["a.txt", "sub/b.txt"]
    (root / "c.txt").write_text("c")
    again = ds.import_folder(root, exclude=["*.tmp"], include_hidden=True)
    assert (again.imported, again.skipped) == (2, 2)
    strict = ds.import_folder(root, strict=True)
    assert [name for name, _ in strict.failed] == ["schema-x.json"]
    with pytest.raises(gonk.NotFound):
        ds.client.dataset("no-such-dataset").import_folder(root)


def test_users_made_rekeyed_and_deleted_by_an_admin(client: gonk.Client, bob_client: gonk.Client,
                                                    site: SimpleNamespace,
                                                    tmp_path: Path) -> None:
    assert client.me() == {"user": "alice", "admin": True}
    assert bob_client.me() == {"user": "bob", "admin": False}
    name = f"u-{os.urandom(4).hex()}"
    made = client.create_user(name)
    assert made.name == name and made.admin is False and made.key not in repr(made)
    with gonk.Client(site.base, made.key, cache=tmp_path / "c") as theirs:
        assert theirs.me()["user"] == name
        renewed = theirs.new_key()  # themselves: the client goes on with the new key
        assert renewed.key != made.key and theirs.me()["user"] == name
        with gonk.Client(site.base, made.key) as old, pytest.raises(gonk.Unauthorized):
            old.me()
        listed = {u.name: u for u in client.users()}
        assert listed[name].deleted is None and listed["alice"].admin is True
        with pytest.raises(gonk.Forbidden):
            bob_client.users()
        with pytest.raises(gonk.Forbidden):
            bob_client.new_key(name)
        when = client.delete_user(name)
        assert next(u for u in client.users() if u.name == name).deleted == when
        with pytest.raises(gonk.Unauthorized):
            theirs.me()
    with pytest.raises(gonk.Conflict):
        client.create_user(name)  # a deleted user's name is never given again


def test_members_roles_and_a_private_dataset(ds: Dataset, bob_client: gonk.Client) -> None:
    assert ds.info()["visibility"] == "internal" and ds.info()["access"] == "owner"
    assert ds.members.set("bob", "viewer") == "viewer"
    assert ds.members.list() == [("bob", "viewer")]
    theirs = bob_client.dataset(ds.name)
    assert theirs.info()["access"] == "viewer"
    with pytest.raises(gonk.Forbidden, match="annotator role"):
        theirs.upload(b"from bob", "bob.txt")
    settings = ds.configure(visibility="private", require_other_reviewer=True)
    assert settings["visibility"] == "private" and settings["require_other_reviewer"] is True
    assert ds.name in bob_client.datasets()  # a member
    ds.members.remove("bob")
    assert ds.name not in bob_client.datasets()
    assert not theirs.exists()
    with pytest.raises(gonk.NotFound):
        theirs.info()
    with pytest.raises(gonk.Conflict):
        ds.configure(visibility="private")


def test_the_work_queue(ds: Dataset, bob_client: gonk.Client) -> None:
    ds.schemas.create("schema-label", LABEL_SCHEMA)
    made = [ds.upload(f"item {i}".encode(), f"item-{i}.txt") for i in range(3)]
    for change in ds.pending():
        ds.accept(change)
    ds.set_priority(made[2].uuid, 10)
    ds.assign(made[1].uuid, "bob")
    first = ds.claim("annotate", "schema-label", ttl=120)
    assert first is not None and first.object is not None
    assert first.object["uuid"] == made[2].uuid and first.task == "annotate"
    assert ds.extend(first, 600) > first.expires
    second = ds.claim("annotate", "schema-label")
    assert second is not None and second.object["uuid"] == made[0].uuid
    assert ds.claim("annotate", "schema-label") is None  # the last one is bob's
    theirs = bob_client.dataset(ds.name).claim("annotate", "schema-label")
    assert theirs is not None and theirs.object["uuid"] == made[1].uuid
    ds.give_back(first)
    again = ds.claim("annotate", "schema-label")
    assert again is not None and again.object["uuid"] == made[2].uuid
    report = ds.queue("schema-label")
    assert report["annotate"]["leased"] == 3 and report["annotate"]["left"] == 0
    with pytest.raises(gonk.Invalid):
        ds.claim("paint")
