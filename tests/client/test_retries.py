"""What gonk.Client repeats, through a proxy that fails the first attempts (tests/client/
http_faults.py) in front of a live server: reads after 503s, resets and 502/504s; an upload
whose answer was lost (the repeat returns the version the first attempt created); a review
whose answer was lost; other writes only when the server surely did not act on them; the
server's Retry-After; and what is raised once the retries are spent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

import gonk
from tests.client.conftest import make_client
from tests.client.http_faults import FaultyProxy
from tests.support.http import LABEL_SCHEMA
from tests.support.processes import free_port

pytestmark = pytest.mark.xdist_group("client")


@pytest.fixture
def proxy(site: SimpleNamespace) -> Iterator[FaultyProxy]:
    with FaultyProxy(site.base) as made:
        yield made


@pytest.fixture
def flaky(proxy: FaultyProxy, site: SimpleNamespace, tmp_path: Path) -> Iterator[gonk.Client]:
    """alice's client, through the proxy."""
    with make_client(proxy.url, site.key, tmp_path / "cache") as made:
        yield made


@pytest.fixture
def birds(flaky: gonk.Client, ds: gonk.Dataset) -> gonk.Dataset:
    """The test's dataset, reached through the proxy."""
    return flaky.dataset(ds.name)


def test_reads_are_repeated_after_503s_resets_and_proxy_errors(proxy: FaultyProxy,
                                                                 birds: gonk.Dataset) -> None:
    birds.upload(b"owl", "owl.txt")
    for action in ("503", "drop", "502"):  # the client's 3 retries
        proxy.fail(action, method="GET", path="/objects")
    assert [o.name for o in birds.objects] == ["owl.txt"]
    assert proxy.outcomes("GET", "/objects") == ["503", "drop", "502", "forward",
                                                 "forward"]  # then the empty last page
    proxy.fail("504", method="GET", path="/bytes")
    proxy.fail("lost", method="GET", path="/bytes")
    [owl] = list(birds.objects)
    assert birds.objects.read(owl.uuid, 0) == b"owl"
    assert proxy.outcomes("GET", "/bytes") == ["504", "lost", "forward"]


def test_retry_after_is_honoured(proxy: FaultyProxy, birds: gonk.Dataset) -> None:
    proxy.fail("503", method="GET", path="/owners", retry_after="1")
    started = time.monotonic()
    assert birds.owners.list() == ["alice"]
    assert time.monotonic() - started >= 1.0
    assert proxy.outcomes("GET", "/owners") == ["503", "forward"]


def test_an_upload_whose_answer_was_lost_returns_the_version_it_created(
        proxy: FaultyProxy, birds: gonk.Dataset, ds: gonk.Dataset, tmp_path: Path) -> None:
    proxy.fail("lost", method="POST", path="/objects")
    made = birds.upload(b"a heron", "heron.txt")
    assert made.existing and made.version == 0
    assert proxy.outcomes("POST") == ["lost", "forward"]
    assert [(o.uuid, o.name) for o in ds.objects] == [(made.uuid, "heron.txt")]  # just one
    photo = tmp_path / "owl.png"
    photo.write_bytes(b"\x89PNG owl")
    proxy.fail("drop", method="POST", path="/objects")
    proxy.fail("504", method="POST", path="/objects")
    second = birds.upload(photo)  # the file is sent again each time
    assert not second.existing and ds.objects.read(second.uuid, 0) == b"\x89PNG owl"
    # a first attempt refused as a duplicate is not a repeat: it fails
    with pytest.raises(gonk.Conflict) as duplicate:
        birds.upload(photo, "again.png")
    assert duplicate.value.existing == {"uuid": second.uuid, "version": 0}


def test_a_review_whose_answer_was_lost_succeeds(proxy: FaultyProxy,
                                                 birds: gonk.Dataset) -> None:
    birds.upload(b"owl", "owl.txt")
    birds.upload(b"gull", "gull.txt")
    first, second = list(birds.pending())
    proxy.fail("lost", method="PUT", path="/accept")
    assert birds.accept(first) == first.event.uuid
    proxy.fail("lost", method="PUT", path="/reject")
    assert birds.reject(second.event) == second.event.uuid
    assert proxy.outcomes("PUT") == ["lost", "forward", "lost", "forward"]
    assert list(birds.pending()) == []
    # an event reviewed the other way is a Conflict, as without the client
    birds.upload(b"tern", "tern.txt")
    [third] = list(birds.pending())
    birds.reject(third)
    with pytest.raises(gonk.Conflict, match="already reviewed: REJECTED"):
        birds.accept(third)


def test_other_writes_are_repeated_only_when_the_server_did_not_act(
        proxy: FaultyProxy, birds: gonk.Dataset) -> None:
    proxy.fail("503", method="POST", path="/schemas", retry_after="0")
    assert birds.schemas.create("schema-label", LABEL_SCHEMA).versions == 1
    assert proxy.outcomes("POST", "/schemas") == ["503", "forward"]
    owl = birds.upload(b"owl", "owl.jpg")
    proxy.fail("lost", method="POST", path="/annotations")
    with pytest.raises(gonk.ConnectionFailed, match="broke off"):
        birds.annotations.create("schema-label", 0, [owl], {"label": "owl"})
    assert proxy.outcomes("POST", "/annotations") == ["lost"]  # not sent again
    proxy.fail("502", method="POST", path="/releases")
    with pytest.raises(gonk.ServerError) as bad_gateway:
        birds.releases.create("v1")
    assert bad_gateway.value.status == 502
    assert proxy.outcomes("POST", "/releases") == ["502"]


def test_when_the_retries_are_spent(proxy: FaultyProxy, birds: gonk.Dataset,
                                    site: SimpleNamespace) -> None:
    proxy.fail("503", times=10, method="GET", path="/owners", retry_after="0")
    with pytest.raises(gonk.Unavailable) as unavailable:
        birds.owners.list()
    assert unavailable.value.status == 503 and unavailable.value.retry_after == 0
    assert unavailable.value.message == "The test proxy says no."
    assert proxy.outcomes("GET", "/owners") == ["503"] * 4  # the first attempt and 3 retries
    nowhere = gonk.Client(f"http://127.0.0.1:{free_port()}", site.key, retries=2, backoff=0.01)
    with nowhere, pytest.raises(gonk.ConnectionFailed, match="Cannot reach a Gonk server"):
        nowhere.datasets()
