"""The review inbox (#/d/<name>/review) in Chromium against a live `gonk-api serve`: what each
kind of pending change shows, deciding with the keyboard and the buttons (checked through the
API: the event leaves the pending list, a review event is in the log), several at once, a
change reviewed elsewhere meanwhile, and a user who is not an owner.

Each test that decides works on a dataset of its own, so the tests do not depend on their order.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from tests.support.browser import NARROW, api, browser_or_skip, expect, shoot, sign_in
from tests.support.http import b64
from tests.support.images import image_bytes
from tests.support.storage import running_site

pytestmark = pytest.mark.xdist_group("web-review")

DETECTION = {"type": "object", "x-gonk-kind": "detection",
             "properties": {"boxes": {"type": "array"}}, "required": ["boxes"]}
BEFORE = {"boxes": [{"label": "heron", "bbox": [40, 30, 200, 150]}]}
AFTER = {"boxes": [{"label": "heron", "bbox": [60, 40, 220, 160]},
                   {"label": "fish", "bbox": [300, 200, 60, 40], "score": 0.8}]}


def _pending(site: SimpleNamespace, dataset: str) -> list[dict[str, Any]]:
    return api(site, "GET", f"/datasets/{dataset}/events",
               params={"pending": "true", "limit": 1000})


def _accept_all(site: SimpleNamespace, dataset: str) -> None:
    for event in _pending(site, dataset):
        api(site, "PUT", f"/datasets/{dataset}/events/{event['uuid']}/accept")


def _object(site: SimpleNamespace, dataset: str, name: str, data: bytes,
            mimetype: str) -> str:
    made = api(site, "POST", f"/datasets/{dataset}/objects",
               json={"name": name, "mimetype": mimetype, "object": b64(data)})
    return str(made["uuid"])


def _seed_inbox(site: SimpleNamespace) -> dict[str, str]:
    """inbox: one pending change of each kind, in this log order:
    heron.png updated (v0 -> v1), owl.jpg new, notes.txt new, the heron's boxes updated,
    sparrow.png deleted, the boxes' annotation of the sparrow deleted, the schema updated,
    new boxes on the owl."""
    d = "/datasets/inbox"
    api(site, "POST", "/datasets", json={"name": "inbox"})
    api(site, "POST", f"{d}/schemas", json={"name": "schema-boxes", "schema": b64(DETECTION)})
    heron = _object(site, "inbox", "heron.png", image_bytes("PNG", 640, 480, (90, 140, 200)),
                    "image/png")
    sparrow = _object(site, "inbox", "sparrow.png",
                      image_bytes("PNG", 200, 200, (200, 180, 40)), "image/png")
    _accept_all(site, "inbox")
    boxes = api(site, "POST", f"{d}/annotations", json={
        "schema": {"name": "schema-boxes", "version": 0},
        "object_identifiers": [{"uuid": heron, "version": 0}], "annotation": b64(BEFORE)})
    on_sparrow = api(site, "POST", f"{d}/annotations", json={
        "schema": {"name": "schema-boxes", "version": 0},
        "object_identifiers": [{"uuid": sparrow, "version": 0}], "annotation": b64(BEFORE)})
    _accept_all(site, "inbox")
    # the pending changes
    api(site, "PATCH", f"{d}/objects/{heron}", json={
        "name": "heron.png", "mimetype": "image/png",
        "object": b64(image_bytes("PNG", 640, 480, (200, 90, 60)))})
    owl = _object(site, "inbox", "owl.jpg", image_bytes("JPEG", 320, 240, (120, 90, 60)),
                  "image/jpeg")
    _object(site, "inbox", "notes.txt", b"two herons on the lake\nand a fish\n" + b"~" * 400,
            "text/plain")  # a long line, which must not widen a narrow window
    api(site, "PATCH", f"{d}/annotations/{boxes['uuid']}", json={
        "schema": {"name": "schema-boxes", "version": 0}, "annotation": b64(AFTER)})
    api(site, "DELETE", f"{d}/objects/{sparrow}/0")
    api(site, "DELETE", f"{d}/annotations/{on_sparrow['uuid']}/0")
    api(site, "PATCH", f"{d}/schemas/schema-boxes",
        json={"schema": b64(DETECTION | {"title": "Boxes, version two"})})
    api(site, "POST", f"{d}/annotations", json={
        "schema": {"name": "schema-boxes", "version": 0},
        "object_identifiers": [{"uuid": owl, "version": 0}], "annotation": b64(BEFORE)})
    return {"heron": heron, "owl": owl, "sparrow": sparrow, "boxes": boxes["uuid"]}


def _seed_queue(site: SimpleNamespace, dataset: str, count: int, start: int = 0) -> list[str]:
    """`count` new pending text objects in `dataset` (made first unless `start`), numbered
    from `start`; the pending events' uuids in log order."""
    if start == 0:
        api(site, "POST", "/datasets", json={"name": dataset})
    for i in range(start, start + count):
        _object(site, dataset, f"note-{i}.txt", f"note {i}".encode(), "text/plain")
    return [e["uuid"] for e in _pending(site, dataset)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    browser_or_skip()
    with running_site(tmp_path_factory.mktemp("web-review") / "gonk-data", "sqlite-files",
                      request, ("alice", "bob"), "serve", ["--workers", "2"],
                      new_session=True) as served:
        served.inbox = _seed_inbox(served)
        yield served


def _rows(page: Any) -> list[str]:
    return [str(u) for u in page.locator("#queue > li").evaluate_all(
        "rows => rows.map(r => r.dataset.event)")]


def _reviews(site: SimpleNamespace, dataset: str) -> dict[str, str]:
    """event uuid -> "accept" | "reject", from the review events of the log."""
    events = api(site, "GET", f"/datasets/{dataset}/events", params={"limit": 1000})
    return {e["event_uuid"]: "accept" if e["type"] == "ReviewAcceptEvent" else "reject"
            for e in events if e["type"] in ("ReviewAcceptEvent", "ReviewRejectEvent")}


def test_the_inbox_shows_each_kind_of_change(page: Any, site: SimpleNamespace) -> None:
    pending = _pending(site, "inbox")
    sign_in(page, site, "#/d/inbox")
    page.click("#review-link")
    expect(page.locator("#queue > li")).to_have_count(len(pending))
    assert _rows(page) == [e["uuid"] for e in pending]  # log order
    assert [e["type"] for e in pending] == [
        "ObjectUpdateEvent", "ObjectCreateEvent", "ObjectCreateEvent", "AnnotationUpdateEvent",
        "ObjectDeleteEvent", "AnnotationDeleteEvent", "ObjectUpdateEvent",
        "AnnotationCreateEvent"]
    expect(page.locator("#review-summary")).to_contain_text("8 changes awaiting review")
    detail = page.locator("#detail")

    def images_loaded(scope: Any, count: int) -> None:
        images = scope.locator("img")
        expect(images).to_have_count(count)
        for i in range(count):
            expect(images.nth(i)).to_have_js_property("complete", True)
            assert images.nth(i).evaluate("i => i.naturalWidth") > 0

    # 1. an object update: the previous version and the new one side by side
    expect(page.locator("#detail-title")).to_have_text("Object heron.png: v0 → v1")
    before, after = detail.locator("[data-side=before]"), detail.locator("[data-side=after]")
    images_loaded(before, 1)
    images_loaded(after, 1)
    assert "v0" in before.locator("figcaption").inner_text()
    expect(after.locator("figcaption .badge")).to_have_text(["pending"])
    shoot(page, "review")
    # 2. a new image: its preview
    page.keyboard.press("j")
    expect(page.locator("#detail-title")).to_have_text("New object owl.jpg")
    images_loaded(detail.locator("[data-side=new]"), 1)
    assert page.locator("#queue > li").nth(1).get_attribute("aria-current") == "true"
    # 3. a new text file: its text
    page.keyboard.press("j")
    expect(detail.locator("pre.text")).to_contain_text("two herons on the lake")
    # 4. an annotation update: both versions drawn on the heron, the new boxes marked in the JSON
    page.keyboard.press("j")
    expect(page.locator("#detail-title")).to_contain_text("(schema-boxes): v0 → v1 on heron.png")
    expect(before.locator("svg.overlay .shape.box")).to_have_count(1)
    expect(after.locator("svg.overlay .shape.box")).to_have_count(2)
    assert before.locator(".shape.box").get_attribute("data-label") == "heron"
    assert after.locator(".shape.box text").all_text_contents() == ["heron", "fish 80%"]
    assert [float(after.locator(".shape.box rect").first.get_attribute(a))
            for a in ("x", "y", "width", "height")] == [60, 40, 220, 160]
    assert "heron.png v0" in after.inner_text()
    shoot(page, "review-annotation")
    # 5. an object deletion: what would be deleted
    page.keyboard.press("j")
    expect(page.locator("#detail-title")).to_have_text("Delete object sparrow.png v0")
    images_loaded(detail.locator("[data-side=to-be-deleted]"), 1)
    # 6. an annotation deletion: drawn on its object
    page.keyboard.press("j")
    expect(detail.locator("[data-side=to-be-deleted] svg.overlay .shape.box")).to_have_count(1)
    # 7. a schema update: both documents, the changed lines marked
    page.keyboard.press("j")
    expect(page.locator("#detail-title")).to_have_text("Schema schema-boxes: v0 → v1")
    expect(after.locator(".line.changed")).to_contain_text(['"title": "Boxes, version two"'])
    # 8. a new annotation on a pending object, named in the title
    page.keyboard.press("j")
    expect(page.locator("#detail-title")).to_have_text("New annotation (schema-boxes) on owl.jpg")
    expect(detail.locator("svg.overlay .shape.box")).to_have_count(1)
    # k goes back; nothing was decided by moving around
    page.keyboard.press("k")
    expect(page.locator("#detail-title")).to_have_text("Schema schema-boxes: v0 → v1")
    assert len(_pending(site, "inbox")) == 8
    page.set_viewport_size(NARROW)
    for _ in range(3):
        page.keyboard.press("k")
    expect(page.locator("#detail-title")).to_contain_text("(schema-boxes): v0 → v1 on heron.png")
    expect(after.locator("svg.overlay .shape.box")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(page, "review-narrow")
    page.keyboard.press("k")  # the text with its long line scrolls inside its box
    expect(detail.locator("pre.text")).to_contain_text("two herons on the lake")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_accept_and_reject_with_the_keyboard(page: Any, site: SimpleNamespace) -> None:
    events = _seed_queue(site, "keys", 4)
    sign_in(page, site, "#/d/keys/review")
    expect(page.locator("#queue > li")).to_have_count(4)
    expect(page.locator("#detail pre.text")).to_contain_text("note 0")
    page.keyboard.press("a")  # accepts the first; the inbox moves on to the second
    expect(page.locator("#queue > li")).to_have_count(3)
    expect(page.locator("#detail pre.text")).to_contain_text("note 1")
    assert _reviews(site, "keys") == {events[0]: "accept"}
    page.keyboard.press("j")  # to the third
    page.keyboard.press("r")
    expect(page.locator("#queue > li")).to_have_count(2)
    expect(page.locator("#detail pre.text")).to_contain_text("note 3")  # the one after it
    assert _reviews(site, "keys") == {events[0]: "accept", events[2]: "reject"}
    assert [e["uuid"] for e in _pending(site, "keys")] == [events[1], events[3]]
    # the decided ones are listed apart, with their decisions
    expect(page.locator("#decided > li")).to_have_count(2)
    assert page.locator(f"#decided > li[data-event='{events[2]}']").get_attribute(
        "data-outcome") == "rejected"
    expect(page.locator("#decided-summary")).to_have_text("Decided here: 1 accepted, 1 rejected")
    # the buttons do the same
    page.click("#accept")
    expect(page.locator("#queue > li")).to_have_count(1)
    page.click("#reject")
    expect(page.locator("#review-summary")).to_have_text("Nothing awaits review.")
    expect(page.locator("#detail .empty")).to_have_text("Nothing awaits review.")
    assert _reviews(site, "keys") == {events[0]: "accept", events[1]: "reject",
                                      events[2]: "reject", events[3]: "accept"}
    assert _pending(site, "keys") == []
    # a change proposed meanwhile comes in with "Check for new changes"
    late = _seed_queue(site, "keys", 1, start=4)
    page.click("#check-again")
    expect(page.locator("#queue > li")).to_have_count(1)
    assert _rows(page) == late
    expect(page.locator("#detail pre.text")).to_contain_text("note 4")


def test_several_decided_at_once_and_pages_refilled(page: Any, site: SimpleNamespace) -> None:
    events = _seed_queue(site, "bulk", 130)  # more than the first page of 100
    sign_in(page, site, "#/d/bulk/review")
    expect(page.locator("#queue > li")).to_have_count(100)
    expect(page.locator("#review-summary")).to_contain_text("100+ changes awaiting review")
    # x selects the current one; the checkbox of another row selects it too
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.locator("#queue > li").nth(4).locator("input.pick").check()
    expect(page.locator("#accept")).to_have_text("Accept 3 selected")
    page.keyboard.press("a")
    expect(page.locator("#queue > li")).to_have_count(97)
    assert _reviews(site, "bulk") == {events[i]: "accept" for i in (0, 2, 4)}
    # the one shown (2) was decided: the inbox shows the change that followed it (3)
    expect(page.locator("#detail-title")).to_have_text("New object note-3.txt")
    expect(page.locator("#queue > li.current")).to_have_attribute("data-event", events[3])
    # a held key decides once
    page.keyboard.down("x")
    page.keyboard.down("x")  # (a repeat)
    page.keyboard.up("x")
    expect(page.locator("#accept")).to_have_text("Accept 1 selected")
    page.keyboard.press("x")
    expect(page.locator("#accept")).to_have_text("Accept")
    # "Select all loaded" then Reject: every loaded change; the next page comes by itself
    page.click("#select-all")
    expect(page.locator("#reject")).to_have_text("Reject 97 selected")
    page.click("#reject")
    expect(page.locator("#decided-summary")).to_have_text(
        "Decided here: 3 accepted, 97 rejected", timeout=30_000)
    expect(page.locator("#queue > li")).to_have_count(30)
    assert _rows(page) == events[100:]
    reviews = _reviews(site, "bulk")
    assert len(reviews) == 100 and list(reviews.values()).count("reject") == 97


def test_a_change_reviewed_meanwhile_leaves_the_inbox(page: Any,
                                                      site: SimpleNamespace) -> None:
    page.console_log.allow(409)
    events = _seed_queue(site, "race", 2)
    sign_in(page, site, "#/d/race/review")
    expect(page.locator("#queue > li")).to_have_count(2)
    api(site, "PUT", f"/datasets/race/events/{events[0]}/reject")  # another owner, elsewhere
    page.keyboard.press("a")
    expect(page.locator("#queue > li")).to_have_count(1)
    item = page.locator(f"#decided > li[data-event='{events[0]}']")
    expect(item).to_contain_text("already reviewed")
    assert _reviews(site, "race") == {events[0]: "reject"}  # not turned into an accept


def test_who_is_not_an_owner_is_offered_no_decision(page: Any, site: SimpleNamespace) -> None:
    events = _seed_queue(site, "others", 2)
    sign_in(page, site, "#/d/others/review", key=site.keys[1])  # bob: no owner of it
    expect(page.locator("#not-owner")).to_contain_text(
        "You (bob) are an annotator of others: only its owners (alice) and reviewers")
    expect(page.locator("#queue > li")).to_have_count(2)
    assert page.locator("#accept").count() == 0 and page.locator("#reject").count() == 0
    assert page.locator("#queue input.pick").count() == 0
    page.keyboard.press("a")
    page.keyboard.press("r")
    page.keyboard.press("j")  # moving still works
    expect(page.locator("#queue > li").nth(1)).to_have_attribute("aria-current", "true")
    assert [e["uuid"] for e in _pending(site, "others")] == events
    # made a reviewer (a role recorded in the log), bob decides
    api(site, "PUT", "/datasets/others/members/bob", json={"role": "reviewer"})
    page.reload()
    expect(page.locator("#accept")).to_be_visible()
    assert page.locator("#not-owner").count() == 0
    page.keyboard.press("a")
    expect(page.locator("#queue > li")).to_have_count(1)
    reviews = api(site, "GET", "/datasets/others/events", params={"limit": 1000})
    assert [(e["author"], e["event_uuid"]) for e in reviews
            if e["type"] == "ReviewAcceptEvent"] == [("bob", events[0])]


def test_members_and_settings_page(page: Any, site: SimpleNamespace) -> None:
    page.console_log.allow(404, 409)
    api(site, "POST", "/datasets", json={"name": "team"})
    sign_in(page, site, "#/d/team")
    page.click("#members-link")
    expect(page.locator("#my-access")).to_contain_text("You (alice) are an owner")
    expect(page.locator("#owners")).to_have_text("alice")
    expect(page.locator("#no-members")).to_be_visible()
    # add bob as a reviewer; an unknown user is the server's 404, shown
    page.fill("#member-user", "nobody")
    page.click("#add-member button[type=submit]")
    expect(page.locator("#members-message .error")).to_contain_text("No user named nobody")
    page.fill("#member-user", "bob")
    page.select_option("#member-role", "reviewer")
    page.click("#add-member button[type=submit]")
    expect(page.locator("#members tbody tr[data-user=bob]")).to_have_attribute("data-role",
                                                                               "reviewer")
    assert api(site, "GET", "/datasets/team/members") == [{"user": "bob", "role": "reviewer"}]
    # change the role in place, then the settings
    page.locator("#members tbody tr[data-user=bob] select").select_option("viewer")
    expect(page.locator("#members-message")).to_contain_text("bob is now a viewer")
    assert api(site, "GET", "/datasets/team/members") == [{"user": "bob", "role": "viewer"}]
    page.select_option("#visibility", "private")
    page.check("#four-eyes")
    page.click("#save-settings")
    expect(page.locator("#members-message")).to_contain_text("Saved: private")
    info = api(site, "GET", "/datasets/team")
    assert info["visibility"] == "private" and info["require_other_reviewer"] is True
    types = [e["type"] for e in api(site, "GET", "/datasets/team/events")]
    assert types[-3:] == ["MemberSetEvent", "MemberSetEvent", "DatasetSettingsEvent"]
    shoot(page, "members")
    page.click("#members tbody tr[data-user=bob] button.remove")
    expect(page.locator("#members tbody tr")).to_have_count(0)
    assert api(site, "GET", "/datasets/team/members") == []
    # bob, no longer a member of a private dataset, finds nothing there
    page.click("#signout")
    sign_in(page, site, "#/d/team/members", key=site.keys[1])
    expect(page.locator("main .error")).to_contain_text("No dataset named team")


def test_next_to_review_and_next_to_annotate_claim_from_the_queue(page: Any,
                                                                 site: SimpleNamespace) -> None:
    events = _seed_queue(site, "claims", 3)
    api(site, "PUT", "/datasets/claims/members/bob", json={"role": "reviewer"})
    sign_in(page, site, "#/d/claims/review")
    expect(page.locator("#queue > li")).to_have_count(3)
    page.keyboard.press("j")  # looking at the second; the claim brings the oldest free one
    page.click("#claim-next")
    expect(page.locator("#lease-note")).to_contain_text("Leased to you until")
    expect(page.locator("#queue > li.current")).to_have_attribute("data-event", events[0])
    assert api(site, "GET", "/datasets/claims/queue")["review"] == {"awaiting": 3, "leased": 1}
    bob = requests.post(f"{site.base}/datasets/claims/queue/claim", json={"task": "review"},
                        headers={"x-api-key": site.keys[1]}, timeout=30).json()
    assert bob["item"]["event"]["uuid"] == events[1]  # alice's lease is passed over
    page.keyboard.press("a")  # deciding ends her lease
    expect(page.locator("#queue > li")).to_have_count(2)
    assert api(site, "GET", "/datasets/claims/queue")["review"] == {"awaiting": 2, "leased": 1}
    # next to annotate: a schema and an accepted object
    api(site, "POST", "/datasets/claims/schemas",
        json={"name": "schema-note", "schema": b64({"type": "object"})})
    for event in _pending(site, "claims"):
        api(site, "PUT", f"/datasets/claims/events/{event['uuid']}/accept")
    page.goto(f"{site.base}/#/d/claims")
    page.select_option("#annotate-schema", "schema-note")
    page.click("#claim-annotate")
    expect(page.locator("#lease")).to_contain_text("Leased to you to annotate")
    assert "lease=" in page.url
    report = api(site, "GET", "/datasets/claims/queue", params={"schema": "schema-note"})
    assert report["annotate"]["leased"] == 1
    page.click("#give-back")
    expect(page.locator("#lease")).to_contain_text("Given back")
    report = api(site, "GET", "/datasets/claims/queue", params={"schema": "schema-note"})
    assert report["annotate"]["leased"] == 0
