"""The releases page (#/d/<name>/releases) in Chromium against a live `gonk-api serve`: the
list, creating a release (owners only; the server's refusals shown), every download (the
manifest checked against its sha256, each label format's zip compared with the API's), and the
diff between two points compared with GET /diff."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from tests.support.browser import NARROW, TIMEOUT, api, browser_or_skip, expect, shoot, sign_in
from tests.support.http import b64
from tests.support.images import image_bytes
from tests.support.storage import running_site

pytestmark = pytest.mark.xdist_group("web-releases")

DETECTION = {"type": "object", "x-gonk-kind": "detection",
             "properties": {"boxes": {"type": "array"}}, "required": ["boxes"]}
FORMATS = ["coco", "yolo", "voc", "csv", "parquet"]


def _accept_all(site: SimpleNamespace, dataset: str) -> None:
    pending = api(site, "GET", f"/datasets/{dataset}/events",
                  params={"pending": "true", "limit": 1000})
    for event in pending:
        api(site, "PUT", f"/datasets/{dataset}/events/{event['uuid']}/accept")


def _image(site: SimpleNamespace, dataset: str, name: str, colour: tuple[int, int, int]) -> str:
    made = api(site, "POST", f"/datasets/{dataset}/objects", json={
        "name": name, "mimetype": "image/png",
        "object": b64(image_bytes("PNG", 320, 240, colour))})
    return str(made["uuid"])


def _boxes(site: SimpleNamespace, dataset: str, uuid: str, label: str) -> None:
    api(site, "POST", f"/datasets/{dataset}/annotations", json={
        "schema": {"name": "schema-boxes", "version": 0},
        "object_identifiers": [{"uuid": uuid, "version": 0}],
        "annotation": b64({"boxes": [{"label": label, "bbox": [10, 20, 100, 80]}]})})


def _seed(site: SimpleNamespace) -> dict[str, Any]:
    """birds: two images with boxes, accepted, released as v1 (through the API); then a third
    image with boxes, accepted, and the heron updated (not released)."""
    api(site, "POST", "/datasets", json={"name": "birds"})
    api(site, "POST", "/datasets/birds/schemas",
        json={"name": "schema-boxes", "schema": b64(DETECTION)})
    _accept_all(site, "birds")
    heron = _image(site, "birds", "heron.png", (90, 140, 200))
    owl = _image(site, "birds", "owl.png", (120, 90, 60))
    _accept_all(site, "birds")
    _boxes(site, "birds", heron, "heron")
    _boxes(site, "birds", owl, "owl")
    _accept_all(site, "birds")
    v1 = api(site, "POST", "/datasets/birds/releases",
             json={"name": "v1", "description": "two birds\nfirst cut"})
    sparrow = _image(site, "birds", "sparrow.png", (200, 180, 40))
    _accept_all(site, "birds")
    _boxes(site, "birds", sparrow, "sparrow")
    api(site, "PATCH", f"/datasets/birds/objects/{heron}", json={
        "name": "heron.png", "mimetype": "image/png",
        "object": b64(image_bytes("PNG", 320, 240, (10, 10, 10)))})
    _accept_all(site, "birds")
    return {"v1": v1, "heron": heron, "sparrow": sparrow}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    browser_or_skip()
    with running_site(tmp_path_factory.mktemp("web-releases") / "gonk-data", "sqlite-files",
                      request, ("alice", "bob"), "serve", ["--workers", "2"],
                      new_session=True) as served:
        served.seeded = _seed(served)
        yield served


def _latest_event(site: SimpleNamespace, dataset: str) -> tuple[int, str]:
    """The latest event's index in the log and its uuid."""
    events = api(site, "GET", f"/datasets/{dataset}/events", params={"limit": 1000})
    return len(events) - 1, str(events[-1]["uuid"])


def test_create_a_release_and_the_server_s_refusals(page: Any, site: SimpleNamespace) -> None:
    page.console_log.allow(400, 409)
    sign_in(page, site, "#/d/birds")
    page.click("#releases-link")
    rows = page.locator("table.releases tbody tr")
    expect(rows).to_have_count(1)
    v1 = rows.first
    assert v1.get_attribute("data-release") == "v1"
    assert "two birds\nfirst cut" in v1.locator(".description").inner_text()
    assert f"event #{site.seeded['v1']['at']['index']}" in v1.inner_text()
    assert "2 objects" in v1.inner_text() and "2 annotations" in v1.inner_text()
    # a name the server refuses (shaped like a uuid), then one it already has: its words shown
    page.fill("#release-name", "0d21d5a7-fe93-4618-a122-7ca9a2ee5116")
    page.click("#release-form button[type=submit]")
    expect(page.locator("#release-result .error")).to_contain_text("HTTP 400")
    page.fill("#release-name", "v1")
    page.click("#release-form button[type=submit]")
    expect(page.locator("#release-result .error")).to_contain_text("HTTP 409")
    expect(rows).to_have_count(1)
    # a good one, at the latest event
    index, latest = _latest_event(site, "birds")
    page.fill("#release-name", "v2")
    page.fill("#release-description", "three birds")
    page.click("#release-form button[type=submit]")
    expect(page.locator("#release-result")).to_contain_text(
        f"Release v2 made at event #{index}: 3 objects, 2 annotations.")  # the heron's went stale
    expect(rows).to_have_count(2)
    made = api(site, "GET", "/datasets/birds/releases/v2")
    assert made["at"]["uuid"] == latest and made["author"] == "alice"
    assert made["description"] == "three birds" and made["counts"]["objects"] == 3
    assert rows.nth(1).get_attribute("data-release") == "v2"
    # at a given event
    at = site.seeded["v1"]["at"]["uuid"]
    page.fill("#release-name", "again-v1")
    page.fill("#release-at", at)
    page.click("#release-form button[type=submit]")
    expect(rows).to_have_count(3)
    assert api(site, "GET", "/datasets/birds/releases/again-v1")["manifest_sha256"] == \
        site.seeded["v1"]["manifest_sha256"]
    shoot(page, "releases")


def _download(page: Any, release: str, format_: str, files: bool = False) -> bytes:
    """Click the format's button and return the file saved. The page saves it at once while the
    click's user activation lasts (marking its "Save" link data-saved=auto), else leaves the
    link to click: a slow export (a server worker's first Parquet export imports pyarrow) can
    outlast the activation, and browsers drop a download that a script starts after it."""
    if not hasattr(page, "downloads"):
        page.downloads = []
        page.on("download", lambda download: page.downloads.append(download))
    seen = len(page.downloads)
    row = page.locator(f"tr[data-release='{release}']")
    row.locator(f"button[data-format='{format_}']").click()
    save = row.locator(f"a.save[data-format='{format_}'][data-files='{str(files).lower()}']")
    save.wait_for(timeout=60_000)
    if save.get_attribute("data-saved") == "auto":
        deadline = time.monotonic() + 10
        while len(page.downloads) == seen and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert len(page.downloads) == seen + 1, "the page said it saved the file; no download"
        download = page.downloads[-1]
    else:
        with page.expect_download() as info:
            save.click()
        download = info.value
    assert download.suggested_filename == save.get_attribute("download")
    path = download.path()
    assert path is not None
    return Path(path).read_bytes()


def _api_zip(site: SimpleNamespace, release: str, format_: str, files: bool) -> zipfile.ZipFile:
    response = requests.get(
        f"{site.base}/datasets/birds/releases/{release}/export", timeout=TIMEOUT,
        params={"format": format_, "files": "true" if files else "false"},
        headers={"x-api-key": site.key})
    assert response.status_code == 200, response.text
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_downloads_in_every_format(page: Any, site: SimpleNamespace) -> None:
    sign_in(page, site, "#/d/birds/releases")
    expect(page.locator("tr[data-release='v1']")).to_have_count(1)
    manifest = _download(page, "v1", "manifest")
    assert hashlib.sha256(manifest).hexdigest() == site.seeded["v1"]["manifest_sha256"]
    assert manifest.count(b"\n") == 1 + 2 + 2  # a schema, two objects, two annotations
    for files in (False, True):
        if files:
            page.check("#with-files")
        for format_ in FORMATS:
            got = zipfile.ZipFile(io.BytesIO(_download(page, "v1", format_, files)))
            want = _api_zip(site, "v1", format_, files)
            assert sorted(got.namelist()) == sorted(want.namelist()), format_
            assert "export-report.json" in got.namelist()
            for name in got.namelist():
                if name != "export-report.json":
                    assert got.read(name) == want.read(name), (format_, name)
            images = [n for n in got.namelist() if n.endswith(".png")]
            assert len(images) == (2 if files else 0), (format_, got.namelist())
    status = page.locator("tr[data-release='v1'] .progress")
    expect(status).to_contain_text("Save birds-v1-parquet.zip")


def test_the_diff_between_two_points(page: Any, site: SimpleNamespace) -> None:
    sign_in(page, site, "#/d/birds/releases")
    # the latest release is proposed as the start; To empty is the latest event
    expect(page.locator("#diff-from")).to_have_value(
        api(site, "GET", "/datasets/birds/releases")[-1]["name"])
    page.fill("#diff-from", "v1")
    page.fill("#diff-to", "")
    page.click("#diff-form button[type=submit]")
    response = requests.get(f"{site.base}/datasets/birds/diff", params={"from": "v1"},
                            headers={"x-api-key": site.key}, timeout=TIMEOUT)
    changes = response.json()
    rows = page.locator("table.diff tbody tr")
    expect(rows).to_have_count(len(changes))
    shown = rows.evaluate_all("rows => rows.map(r => [r.dataset.kind, r.dataset.uuid, "
                              "r.querySelector('.badge').textContent])")
    assert shown == [[c["kind"], c["uuid"], c["change"]] for c in changes]
    assert {(c["kind"], c["change"]) for c in changes} == {
        ("object", "added"), ("object", "changed"), ("annotation", "added"),
        ("annotation", "removed")}  # the heron's boxes went stale with its update
    expect(page.locator("#diff-summary")).to_contain_text(
        "schemas: 0 added, 0 removed, 0 changed; objects: 1 added, 0 removed, 1 changed; "
        "annotations: 1 added, 1 removed, 0 changed")
    assert response.headers["Gonk-Diff-To"][:8] in page.inner_text("#diff-summary")
    heron = page.locator(f"table.diff tbody tr[data-uuid='{site.seeded['heron']}']")
    assert "v0 → v1" in heron.inner_text()
    # the address keeps the comparison: reloading shows it again
    assert "from=v1" in page.url
    page.reload()
    expect(rows).to_have_count(len(changes))
    # an unknown point: the server's 404 as a message
    page.console_log.allow(404)
    page.fill("#diff-from", "nosuch")
    page.click("#diff-form button[type=submit]")
    expect(page.locator("#diff-summary .error")).to_contain_text("HTTP 404")
    page.fill("#diff-from", "v1")
    page.click("#diff-form button[type=submit]")
    expect(rows).to_have_count(len(changes))
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(100)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(page, "releases-narrow")


def test_who_is_not_an_owner_downloads_but_makes_no_release(page: Any,
                                                            site: SimpleNamespace) -> None:
    sign_in(page, site, "#/d/birds/releases", key=site.keys[1])
    expect(page.locator("tr[data-release='v1']")).to_have_count(1)
    assert page.locator("#release-form").count() == 0
    manifest = _download(page, "v1", "manifest")
    assert hashlib.sha256(manifest).hexdigest() == site.seeded["v1"]["manifest_sha256"]


def test_long_lists_page_and_the_diff_end_stays_pinned(page: Any, site: SimpleNamespace) -> None:
    """more than a page of releases (100) and of changes (100); a change accepted between two
    pages of the diff does not move its end (Gonk-Diff-To)."""
    api(site, "POST", "/datasets", json={"name": "long"})
    for i in range(120):
        api(site, "POST", "/datasets/long/objects", json={
            "name": f"item-{i:03d}.txt", "mimetype": "text/plain", "object": b64(f"{i}".encode())})
    _accept_all(site, "long")
    for i in range(101):
        api(site, "POST", "/datasets/long/releases", json={"name": f"r{i:03d}"})
    sign_in(page, site, "#/d/long/releases")
    rows = page.locator("table.releases tbody tr")
    expect(rows).to_have_count(100)
    page.click("#more")
    expect(rows).to_have_count(101)
    assert rows.nth(100).get_attribute("data-release") == "r100"
    expect(page.locator("#more")).to_be_hidden()
    # from the empty dataset to the latest event: 120 added objects, in two pages
    page.fill("#diff-from", "")
    page.click("#diff-form button[type=submit]")
    changes = page.locator("table.diff tbody tr")
    expect(changes).to_have_count(100)
    expect(page.locator("#diff-summary")).to_contain_text("So far: ")
    api(site, "POST", "/datasets/long/objects", json={
        "name": "late.txt", "mimetype": "text/plain", "object": b64(b"late")})
    _accept_all(site, "long")
    page.click("#diff-more")
    expect(changes).to_have_count(120)
    expect(page.locator("#diff-summary")).to_contain_text(
        "objects: 120 added, 0 removed, 0 changed")
    assert "late.txt" not in page.inner_text("table.diff")
    expect(page.locator("#diff-more")).to_be_hidden()
    # the address keeps a comparison of two empty ends too
    assert "compare=1" in page.url
    page.reload()
    expect(changes).to_have_count(100)
