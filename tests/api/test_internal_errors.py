"""A bug is never reported as a client error: an unexpected exception anywhere behind a route
(here, inside a rule) is a 500 whose body says only that the server log has the details, the
traceback goes to the server log, and nothing is stored."""

from __future__ import annotations

import logging

import pytest

from gonk.domain import events as ev
from gonk.domain import rules
from tests.support.api import DS, events
from tests.support.http import b64

INTERNAL_ERROR = {"error": "Internal server error. The request was not carried out; the server "
                           "log has the details."}


@pytest.mark.parametrize("exception", [KeyError, TypeError, AttributeError, ValueError])
def test_an_exception_inside_a_rule_is_a_500_with_details_only_in_the_log(
        alice, ds, monkeypatch, caplog, exception) -> None:
    def broken_rule(state, event, seq):
        raise exception("internal-detail-42")

    monkeypatch.setitem(rules._HANDLERS, ev.OBJECT_CREATE, broken_rule)
    before = events(alice, DS)
    with caplog.at_level(logging.ERROR, logger="gonk.api"):
        resp = alice.post(f"/datasets/{DS}/objects",
                          {"name": "a.txt", "mimetype": "text/plain", "object": b64("x")})
    assert resp.status_code == 500
    assert resp.json == INTERNAL_ERROR
    text = resp.get_data(as_text=True)
    assert "internal-detail-42" not in text and exception.__name__ not in text
    # the server log has the traceback
    assert "internal-detail-42" in caplog.text and "Traceback" in caplog.text
    assert exception.__name__ in caplog.text
    # nothing was stored: the log is as it was, and no object exists
    assert events(alice, DS) == before
    assert alice.get(f"/datasets/{DS}/objects").json == []
