"""The web app (gonk/web) in a real Chromium: Debian's /usr/bin/chromium, headless, driven by
Playwright for Python (its bundled driver, not a browser download), against a live `gonk-api
serve` on SQLite + files with real PNG and JPEG images and detection annotations.

Every test fails on any JavaScript error (an uncaught exception) and on any console error,
except the "Failed to load resource" lines of the HTTP statuses the test provokes on purpose
(a wrong key's 401, a missing dataset's 404).

Screenshots of each page go to test-results/screenshots/ (gitignored); with
GONK_WEB_SCREENSHOTS=docs they are also copied, reduced, to docs/screenshots/ for the README.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from tests.support.browser import (
    NARROW,
    ROOT,
    TIMEOUT,
    api,
    browser_or_skip,
    expect,
    shoot,
    sign_in,
)
from tests.support.http import b64
from tests.support.images import image_bytes
from tests.support.storage import running_site

# one server and one browser for the module, on one xdist worker
pytestmark = pytest.mark.xdist_group("web")

MANY = 650  # objects in the dataset that is scrolled through: 7 pages of 100

DETECTION_SCHEMA = {"type": "object", "x-gonk-kind": "detection",
                    "properties": {"boxes": {"type": "array"}}, "required": ["boxes"]}
HERON_BOXES = {"boxes": [{"label": "heron", "bbox": [40, 30, 200, 150], "score": 0.9},
                         {"label": "fish", "bbox": [300, 200, 60, 40]}]}


# --- the server, its data, the browser ---------------------------------------------------------


def _seed(site: SimpleNamespace) -> dict[str, Any]:
    """birds: three images (two accepted, one rejected), a text file (pending), detection boxes
    on the heron (pending); many: MANY small text files; empty: nothing."""
    for name in ("birds", "many", "empty", "shapes"):
        api(site, "POST", "/datasets", json={"name": name})
    files = [("heron.png", image_bytes("PNG", 640, 480, (90, 140, 200)), "image/png"),
             ("owl.jpg", image_bytes("JPEG", 320, 240, (120, 90, 60)), "image/jpeg"),
             ("sparrow.png", image_bytes("PNG", 200, 200, (200, 180, 40)), "image/png"),
             ("notes.txt", b"two birds on the lake", "text/plain")]
    uuids = {}
    for name, data, mimetype in files:
        made = api(site, "POST", "/datasets/birds/objects",
                    json={"name": name, "mimetype": mimetype, "object": b64(data)})
        uuids[name] = made["uuid"]
    schema = api(site, "POST", "/datasets/birds/schemas",
                  json={"name": "schema-boxes", "schema": b64(DETECTION_SCHEMA)})
    assert schema["name"] == "schema-boxes"
    events = api(site, "GET", "/datasets/birds/events", params={"pending": "true",
                                                                  "limit": 1000})
    by_object = {e["object"]["uuid"]: e["uuid"] for e in events if "object" in e}
    for name in ("heron.png", "owl.jpg"):
        api(site, "PUT", f"/datasets/birds/events/{by_object[uuids[name]]}/accept")
    api(site, "PUT", f"/datasets/birds/events/{by_object[uuids['sparrow.png']]}/reject")
    schema_event = next(e["uuid"] for e in events if e["object"]["uuid"] not in uuids.values())
    api(site, "PUT", f"/datasets/birds/events/{schema_event}/accept")
    annotation = api(site, "POST", "/datasets/birds/annotations", json={
        "schema": {"name": "schema-boxes", "version": 0},
        "object_identifiers": [{"uuid": uuids["heron.png"], "version": 0}],
        "annotation": b64(HERON_BOXES)})
    parts = [("file", (f"item-{i:04d}.txt", f"item {i}".encode(), "text/plain"))
             for i in range(MANY)]
    made = requests.post(f"{site.base}/datasets/many/objects", files=parts, timeout=TIMEOUT,
                         headers={"x-api-key": site.key})
    assert made.status_code == 200, made.text
    return {"objects": uuids, "annotation": annotation["uuid"], "shapes": _seed_shapes(site)}


SHAPES = {
    "segmentation": {"instances": [
        {"label": "lake", "polygons": [[[10, 10], [120, 15], [60, 90]]]},
        {"label": "reeds", "rle": {"size": [200, 300], "counts": [2000, 1000, 57000]}}]},
    "keypoints": {"instances": [{"label": "bird", "bbox": [150, 40, 100, 120], "points": [
        {"name": "beak", "x": 160, "y": 50}, {"name": "tail", "x": 240, "y": 150,
                                                "visible": False}]}]},
    "classification": {"labels": ["dawn", "outdoor"]},
    "plain": {"note": "seen twice", "count": 2},
}


def _seed_shapes(site: SimpleNamespace) -> dict[str, str]:
    """shapes: an image with one annotation of each other kind (and one of a schema without a
    kind), and a file named .png that is not an image."""
    d = "/datasets/shapes"
    image = api(site, "POST", f"{d}/objects", json={
        "name": "pond.png", "mimetype": "image/png",
        "object": b64(image_bytes("PNG", 300, 200, (40, 120, 90)))})
    broken = api(site, "POST", f"{d}/objects", json={
        "name": "broken.png", "mimetype": "image/png", "object": b64(b"\x89PNG not really")})
    for kind in SHAPES:
        schema = {"type": "object"} | ({} if kind == "plain" else {"x-gonk-kind": kind})
        api(site, "POST", f"{d}/schemas", json={"name": f"schema-{kind}", "schema": b64(schema)})
        api(site, "POST", f"{d}/annotations", json={
            "schema": {"name": f"schema-{kind}", "version": 0},
            "object_identifiers": [{"uuid": image["uuid"], "version": 0}],
            "annotation": b64(SHAPES[kind])})
    return {"pond.png": image["uuid"], "broken.png": broken["uuid"]}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    browser_or_skip()
    with running_site(tmp_path_factory.mktemp("web") / "gonk-data", "sqlite-files", request,
                      ("alice",), "serve", ["--workers", "2"], new_session=True) as served:
        served.seeded = _seed(served)
        yield served


# --- the shell, without a browser ---------------------------------------------------------------


def test_the_shell_and_assets_need_no_key_and_carry_security_headers(site: SimpleNamespace
                                                                      ) -> None:
    shell = requests.get(f"{site.base}/", timeout=TIMEOUT)
    assert shell.status_code == 200 and shell.headers["Content-Type"].startswith("text/html")
    csp = shell.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "img-src 'self' blob: data:" in csp and "default-src 'none'" in csp
    assert shell.headers["X-Content-Type-Options"] == "nosniff"
    assert shell.headers["X-Frame-Options"] == "DENY"
    assert 'src="app/js/app.js"' in shell.text and "http" not in shell.text.split("<body>")[0]
    script = requests.get(f"{site.base}/app/js/app.js", timeout=TIMEOUT)
    assert script.status_code == 200
    assert script.headers["Content-Type"].split(";")[0] in ("text/javascript",
                                                            "application/javascript")
    assert requests.get(f"{site.base}/app/js/nothing.js", timeout=TIMEOUT).status_code == 404
    assert requests.get(f"{site.base}/app/../__init__.py", timeout=TIMEOUT).status_code == 404
    assert requests.get(f"{site.base}/app/%2e%2e/__init__.py",
                        timeout=TIMEOUT).status_code == 404
    # the API still needs the key
    assert requests.get(f"{site.base}/datasets", timeout=TIMEOUT).status_code == 401


# --- in the browser ------------------------------------------------------------------------------


def test_sign_in_then_the_datasets_with_their_counts(page: Any, site: SimpleNamespace) -> None:
    page.goto(f"{site.base}/")
    page.wait_for_selector("form.signin")
    shoot(page, "signin")
    page.console_log.allow(401)  # the wrong key, on purpose
    page.fill("#key", "not-a-key")
    page.click("button[type=submit]")
    page.wait_for_selector(".signin .error")
    assert "not accepted" in page.inner_text(".signin .error")
    assert page.evaluate("sessionStorage.length") == 0
    page.fill("#key", site.key)
    page.click("button[type=submit]")
    page.wait_for_selector("table.datasets")
    assert page.evaluate("sessionStorage.getItem('gonk.key')") == site.key
    assert [n.strip() for n in page.locator("table.datasets tbody th").all_inner_texts()] \
        == ["birds", "empty", "many", "shapes"]
    for name in ("birds", "empty", "many", "shapes"):
        stats = api(site, "GET", f"/datasets/{name}/stats")
        row = page.locator(f"tr[data-dataset='{name}']")
        row.locator("td[data-field=pending]").wait_for()
        objects = row.locator("td[data-field=objects]").inner_text()
        assert objects.split()[0] == str(stats["objects"]["accepted"])
        annotations = row.locator("td[data-field=annotations]").inner_text()
        assert annotations.split()[0] == str(stats["annotations"]["accepted"])
        pending = (stats["objects"]["pending"] + stats["schemas"]["pending"]
                   + stats["annotations"]["pending"])
        assert row.locator("td[data-field=pending]").inner_text() == str(pending)
    birds = page.locator("tr[data-dataset='birds']")
    # heron and owl accepted; notes pending; the boxes pending
    assert birds.locator("td[data-field=objects]").inner_text().startswith("2")
    assert birds.locator("td[data-field=pending]").inner_text() == "2"
    # a pending count leads to the review inbox; none, to nothing
    assert birds.locator("td[data-field=pending] a").get_attribute("href") == "#/d/birds/review"
    assert page.locator("tr[data-dataset='empty'] td[data-field=pending] a").count() == 0
    shoot(page, "datasets")
    # the keyboard reaches the links: Tab from the top lands on focusable controls
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") in ("A", "BUTTON")


def test_a_dataset_grid_filtered_and_searched(page: Any, site: SimpleNamespace) -> None:
    sign_in(page, site, "#/d/birds")
    page.wait_for_selector(".tile")
    assert page.locator(".tile").count() == 4
    heron = page.locator(f".tile[data-uuid='{site.seeded['objects']['heron.png']}']")
    notes = page.locator(f".tile[data-uuid='{site.seeded['objects']['notes.txt']}']")
    assert heron.locator(".name").inner_text() == "heron.png"
    notes.locator(".icon", has_text="TXT").wait_for()
    heron.locator(".thumb img").wait_for()
    assert heron.locator(".thumb img").get_attribute("src").startswith("blob:")
    expect(page.locator(".thumb img")).to_have_count(3)
    size = page.evaluate("""() => { const i = document.querySelector('.thumb img');
                                   return [i.naturalWidth, i.naturalHeight]; }""")
    assert max(size) <= 256  # the thumbnail, not the image (640 x 480)
    shoot(page, "dataset")

    expected = {"pending": {"notes.txt"}, "accepted": {"heron.png", "owl.jpg"},
                "rejected": {"sparrow.png"}, "deleted": set()}
    for status, names in expected.items():
        page.select_option("#status", status)
        expect(page.locator("#summary")).to_contain_text(status)
        uuids = {site.seeded["objects"][n] for n in names}
        tiles = page.locator(".tile")
        assert {tiles.nth(i).get_attribute("data-uuid") for i in range(tiles.count())} == uuids
        for name in names:  # names come from each version's metadata
            page.locator(".tile .name", has_text=name).wait_for()
        assert page.is_disabled("#search")
    assert "status=deleted" in page.url
    page.select_option("#status", "")
    page.fill("#search", "ow")
    expect(page.locator(".tile")).to_have_count(1)
    assert page.locator(".tile .name").inner_text() == "owl.jpg"
    assert "q=ow" in page.url
    page.fill("#search", "zz")
    expect(page.locator("#summary")).to_contain_text("No object")
    assert page.locator(".tile").count() == 0


def test_scrolling_through_many_objects_keeps_the_dom_bounded(page: Any,
                                                              site: SimpleNamespace) -> None:
    sign_in(page, site, "#/d/many")
    page.wait_for_selector(".tile")
    started = time.monotonic()
    while "+" in page.inner_text("#summary") or "Loading" in page.inner_text("#summary"):
        page.mouse.wheel(0, 20_000)
        page.wait_for_timeout(100)
        assert time.monotonic() - started < 20, page.inner_text("#summary")
    assert page.inner_text("#summary").startswith(f"{MANY} objects")
    sections = page.locator("section.page")
    assert sections.count() == 7
    # at most five pages of tiles in the DOM; the others are empty blocks of their height
    assert page.locator(".tile").count() <= 500
    assert page.locator("section.page").first.locator(".tile").count() == 0
    last = page.locator(".tile").last
    assert last.locator(".name").inner_text() == f"item-{MANY - 1:04d}.txt"
    # back at the top, the first page is drawn again
    page.evaluate("window.scrollTo(0, 0)")
    page.locator(".tile .name", has_text="item-0000.txt").wait_for()
    assert page.locator(".tile").count() <= 500


def test_an_object_with_its_boxes_drawn(page: Any, site: SimpleNamespace) -> None:
    heron = site.seeded["objects"]["heron.png"]
    sign_in(page, site, f"#/d/birds/o/{heron}/0")
    page.wait_for_selector("svg.overlay g.annotation .shape.box >> nth=1", state="attached")
    image = page.locator(".stage img.full")
    assert image.get_attribute("src").startswith("blob:")
    assert page.evaluate("document.querySelector('.stage img.full').naturalWidth") == 640
    assert page.locator("svg.overlay").get_attribute("viewBox") == "0 0 640 480"
    boxes = page.locator("svg.overlay .shape.box")
    drawn = []
    for i in range(boxes.count()):
        box = boxes.nth(i)
        rect = box.locator("rect")
        drawn.append((box.get_attribute("data-label"), box.locator("text").text_content(),
                      [float(rect.get_attribute(a)) for a in ("x", "y", "width", "height")],
                      rect.get_attribute("stroke")))
    assert [(label, text, bbox) for label, text, bbox, _ in drawn] == [
        ("heron", "heron 90%", [40, 30, 200, 150]), ("fish", "fish", [300, 200, 60, 40])]
    assert drawn[0][3] != drawn[1][3]  # a colour per class
    # the boxes are where the image is: the overlay covers it exactly
    assert page.locator("svg.overlay").bounding_box() == image.bounding_box()
    legend = page.locator(".annotation-list .legend li").all_inner_texts()
    assert [t.split()[0] for t in legend] == ["heron", "fish"]
    assert "pending" in page.inner_text(".annotation-list")
    # the toggle hides and shows the annotation's shapes
    toggle = page.locator(".annotation-list input[type=checkbox]")
    toggle.focus()
    page.keyboard.press("Space")
    assert not page.locator("svg.overlay g.annotation").is_visible()
    page.keyboard.press("Space")
    assert page.locator("svg.overlay .shape.box").first.is_visible()
    # its versions and their events
    versions = page.locator(".version-list > li")
    versions.first.locator(".events li").first.wait_for()
    assert versions.count() == 1
    assert "accepted" in versions.first.locator(".badge").first.inner_text()
    events = versions.first.locator(".events li").all_inner_texts()
    assert any(e.startswith("ObjectCreate") and "accepted" in e for e in events), events
    shoot(page, "object")
    label = page.locator("svg.overlay .shape.box text").first
    wide_font = float(label.get_attribute("font-size"))
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(100)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # the image is shown smaller: labels and strokes grow in image pixels to read the same
    # on screen (14 px text), refitted when the window narrows
    shown = image.bounding_box()["width"]
    narrow_font = float(label.get_attribute("font-size"))
    assert narrow_font > wide_font
    assert abs(narrow_font * shown / 640 - 14) < 0.5, (narrow_font, shown)
    shoot(page, "object-narrow")

    notes = site.seeded["objects"]["notes.txt"]
    page.goto(f"{site.base}/#/d/birds/o/{notes}/0")
    page.wait_for_selector(".nonimage")
    assert "not an image" in page.inner_text(".nonimage")
    page.locator(".version-list .badge", has_text="pending").first.wait_for()


def test_polygons_masks_keypoints_and_other_annotations(page: Any,
                                                        site: SimpleNamespace) -> None:
    page.console_log.allow(415)  # broken.png's thumbnail: not an image, on purpose
    sign_in(page, site, "#/d/shapes")
    broken = page.locator(f".tile[data-uuid='{site.seeded['shapes']['broken.png']}']")
    broken.locator(".icon", has_text="PNG").wait_for()
    assert broken.locator("img").count() == 0
    page.locator(".tile .name", has_text="pond.png").click()
    page.wait_for_selector("svg.overlay .shape.point, svg.overlay circle.point",
                           state="attached")
    overlay = page.locator("svg.overlay")
    expect(overlay.locator("g.annotation")).to_have_count(2)  # segmentation and keypoints
    polygon = overlay.locator(".shape[data-label=lake] polygon")
    assert polygon.get_attribute("points") == "10,10 120,15 60,90"
    mask = overlay.locator(".shape[data-label=reeds] image.mask")
    assert mask.get_attribute("href").startswith("data:image/png")
    assert (mask.get_attribute("width"), mask.get_attribute("height")) == ("300", "200")
    # the mask's pixels: columns 10 to 14 (runs are column by column, 200 a column) are set
    alpha = page.evaluate("""async () => {
        const img = new Image();
        img.src = document.querySelector('svg.overlay image.mask').getAttribute('href');
        await img.decode();
        const c = document.createElement('canvas'); c.width = 300; c.height = 200;
        const g = c.getContext('2d', { willReadFrequently: true });
        g.drawImage(img, 0, 0);
        const at = (x, y) => g.getImageData(x, y, 1, 1).data[3];
        return [at(9, 100), at(10, 0), at(14, 199), at(15, 0)];
    }""")
    assert alpha[0] == 0 and alpha[1] > 0 and alpha[2] > 0 and alpha[3] == 0, alpha
    points = overlay.locator(".shape[data-label=bird] circle.point")
    assert [(points.nth(i).get_attribute("cx"), points.nth(i).get_attribute("cy"),
             points.nth(i).locator("title").text_content()) for i in range(2)] \
        == [("160", "50", "beak"), ("240", "150", "tail")]
    assert points.nth(1).get_attribute("fill") == "none"  # not visible: a hollow point
    assert overlay.locator(".shape[data-label=bird] text").text_content() == "bird"
    items = page.locator(".annotation-list > li")
    expect(items).to_have_count(4)
    text = page.inner_text(".annotation-list")
    assert "dawn" in text and "outdoor" in text  # the classification's labels
    plain = page.locator(".annotation-list > li", has_text="JSON").filter(
        has=page.locator("details[open]"))
    assert '"note": "seen twice"' in plain.locator("pre.json").inner_text()
    shoot(page, "object-shapes")


def test_errors_are_messages_and_sign_out_forgets_the_key(page: Any,
                                                          site: SimpleNamespace) -> None:
    page.console_log.allow(404)  # the missing dataset, on purpose
    sign_in(page, site, "#/d/nosuch")
    page.wait_for_selector("main .error")
    message = page.inner_text("main .error")
    assert "No dataset named nosuch" in message and "HTTP 404" in message
    page.goto(f"{site.base}/#/nowhere")
    page.wait_for_selector("main h1:text('Not found')")
    page.set_viewport_size(NARROW)
    page.goto(f"{site.base}/#/datasets")
    page.wait_for_selector("td[data-field=pending]")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(page, "datasets-narrow")
    page.click("#signout")
    page.wait_for_selector("form.signin")
    assert "Signed out" in page.inner_text("form.signin")
    assert page.evaluate("sessionStorage.getItem('gonk.key')") is None
    page.reload()
    page.wait_for_selector("form.signin")
    assert page.locator("table.datasets").count() == 0


def _all_events(site: SimpleNamespace, dataset: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 1000} | ({"after": after} if after else {})
        batch = api(site, "GET", f"/datasets/{dataset}/events", params=params)
        events += batch
        if len(batch) < 1000:
            return events
        after = batch[-1]["uuid"]


def test_the_log_pages_and_verifies_in_the_browser(page: Any, site: SimpleNamespace) -> None:
    events = _all_events(site, "many")
    assert len(events) > 200
    sign_in(page, site, "#/d/many")
    page.click("#log-link")
    rows = page.locator("table.log tbody tr")
    expect(rows).to_have_count(100)
    assert page.locator("#more").is_visible()
    page.click("#more")
    expect(rows).to_have_count(200)
    # the rows are the log, in order: uuids, types, authors
    shown = page.locator("table.log tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.uuid, "
        "r.querySelector('[data-field=type]').textContent, "
        "r.querySelector('[data-field=author]').textContent])")
    assert shown == [[e["uuid"], e["type"], e["author"]] for e in events[:200]]
    # the items of "many" were never reviewed: pending
    first_item = next(e["uuid"] for e in events if e["type"] == "ObjectCreateEvent")
    assert page.locator(f"tr[data-uuid='{first_item}'] [data-field=review]").inner_text() \
        == "pending"
    while page.locator("#more").is_visible():
        page.click("#more")
        expect(page.locator("#more")).to_be_enabled()
    expect(rows).to_have_count(len(events))
    shoot(page, "log")
    page.click("#verify")
    result = page.locator("#verify-result.ok")
    expect(result).to_have_attribute("data-verified", str(len(events)))
    assert result.get_attribute("data-integrity") == events[-1]["integrity"]
    assert f"{len(events)} events verified" in result.inner_text()
    assert events[-1]["integrity"] in result.inner_text()


def test_the_log_of_birds_shows_reviews_and_verifies(page: Any, site: SimpleNamespace) -> None:
    events = _all_events(site, "birds")
    sign_in(page, site, "#/d/birds/log")
    rows = page.locator("table.log tbody tr")
    expect(rows).to_have_count(len(events))
    assert [t.strip() for t in page.locator("[data-field=type]").all_inner_texts()] \
        == [e["type"] for e in events]
    reviewed = {e["event_uuid"]: e["type"] for e in events if "event_uuid" in e}
    for e in events:
        if e["uuid"] in reviewed:
            review = page.locator(
                f"tr[data-uuid='{e['uuid']}'] [data-field=review]").inner_text()
            assert review == ("accepted" if reviewed[e["uuid"]] == "ReviewAcceptEvent"
                              else "rejected")
    page.click("#verify")
    result = page.locator("#verify-result.ok")
    expect(result).to_have_attribute("data-verified", str(len(events)))
    assert result.get_attribute("data-integrity") == events[-1]["integrity"]


def test_a_tampered_event_breaks_the_chain_at_its_place(page: Any,
                                                        site: SimpleNamespace) -> None:
    events = _all_events(site, "birds")
    index = 3
    target = events[index]["uuid"]

    def tamper(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for event in body:
            if event.get("uuid") == target:
                event["author"] = "mallory"
        route.fulfill(response=response, json=body)

    page.route(re.compile(r".*/datasets/birds/events\?.*"), tamper)
    sign_in(page, site, "#/d/birds/log")
    expect(page.locator("table.log tbody tr")).to_have_count(len(events))
    assert page.locator(f"tr[data-uuid='{target}'] [data-field=author]").inner_text() \
        == "mallory"
    page.click("#verify")
    result = page.locator("#verify-result.error")
    expect(result).to_have_attribute("data-broken-index", str(index))
    assert result.get_attribute("data-broken-uuid") == target
    assert f"event {index} ({target})" in result.inner_text()
    expect(page.locator(f"tr.broken[data-uuid='{target}']")).to_have_count(1)


JCS_VALUES: list[Any] = [
    {"b": 1, "a": 2, "é": 3, "\U0001f600": 4, "\ufb33": 5, "A": 6, "": 7, "aa": 8},
    ["quote\" back\\ nl\n tab\t ctl\u0001 del\u007f nbsp\u00a0 ls\u2028 é \U0001f600"],
    [1e21, 1e20, 0.1, 0.1 + 0.2, -0.0, 0, -1, 1.5e-7, 1e-6, 1.2345678901234568e20, 5e-324,
     1.7976931348623157e308, 2 ** 53 - 1, -1e-7, 100.0],
    {"nested": {"z": [True, False, None], "y": {}}, "empty": [], "s": ""},
]


def test_jcs_matches_python_rfc8785(page: Any, site: SimpleNamespace) -> None:
    """jcs.js evaluated in a blank page (no CSP there) through a blob: URL of its source, fetched
    from the server, against Python's rfc8785 on the same values."""
    import json

    import rfc8785

    source = requests.get(f"{site.base}/app/js/jcs.js", timeout=TIMEOUT)
    assert source.status_code == 200
    page.goto("about:blank")
    got = page.evaluate("""async ([source, values]) => {
        const url = URL.createObjectURL(new Blob([source], {type: "text/javascript"}));
        const jcs = await import(url);
        const out = values.map((v) => jcs.canonicalize(JSON.parse(v)));
        const errors = [NaN, Infinity, -Infinity].map((n) => {
            try { jcs.canonicalize({n}); return "accepted"; } catch (e) { return e.name; }
        });
        return {out, errors};
    }""", [source.text, [json.dumps(v) for v in JCS_VALUES]])
    assert got["errors"] == ["TypeError"] * 3
    for value, text in zip(JCS_VALUES, got["out"], strict=True):
        assert text.encode() == rfc8785.dumps(value), value


def test_the_app_files_are_package_data() -> None:
    """A wheel or sdist must carry every file the app serves: pyproject's package-data globs
    for gonk.web cover each file under src/gonk/web/static (no browser needed)."""
    import fnmatch
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["gonk.web"]
    package = ROOT / "src" / "gonk" / "web"
    files = [p.relative_to(package).as_posix() for p in (package / "static").rglob("*")
             if p.is_file()]
    assert "static/index.html" in files and "static/js/app.js" in files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) and name.count("/") == pattern.count("/")
                   for pattern in globs), name
