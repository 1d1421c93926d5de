"""What the object and annotation routes share: under /objects/ and /annotations/, a UUID (any
case) is an identifier and anything else is a status word (SPEC section 3)."""

from __future__ import annotations

from typing import Any

from .. import queries
from ..domain import validation
from . import context, parsing


def info_or_status(dataset: str, kind: str, segment: str) -> Any:
    """GET .../<segment>: an item's info, or one page of a status list."""
    if validation.is_uuid(segment):
        return queries.item_info(context.installation(), dataset, kind,
                                 validation.parse_uuid(segment), as_of=parsing.point())
    status = parsing.status_word(segment, parsing.ITEM_STATUSES)
    after, limit = parsing.after_and_limit()
    return queries.list_by_status(context.installation(), dataset, kind, status, after, limit,
                                  as_of=parsing.point())


def uuid_for_update(segment: str) -> str:
    """PATCH .../<segment> updates an item; a status word takes no PATCH (405)."""
    if not validation.is_uuid(segment):
        parsing.not_a_status_method()
    return validation.parse_uuid(segment)
