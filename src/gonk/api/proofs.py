"""The verifiable log over HTTP (gonk/transparency.py): GET /log-key (the installation's
verifier key, text/plain, no key needed: it is public), GET /datasets/<d>/checkpoint (the
dataset's signed checkpoint, text/plain), and its inclusion and consistency proofs (JSON)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from .. import transparency
from ..domain import validation
from ..domain.errors import Invalid
from . import context

bp = Blueprint("proofs", __name__)

TEXT = "text/plain; charset=utf-8"


def _tree_size(name: str, required: bool = False) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        if required:
            raise Invalid(f"'{name}' is required: a tree size (a number of events).")
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise Invalid(f"'{name}' must be a tree size: a whole number of events; {raw!r} is not.")
    return int(raw)


@bp.get("/log-key")
def log_key() -> Response:
    return Response(transparency.log_key(context.installation()) + "\n", mimetype=TEXT)


@bp.get("/datasets/<dataset>/checkpoint")
def checkpoint(dataset: str) -> Response:
    name = context.dataset_name_only(dataset)  # readable: checked in the checkpoint's reads
    return Response(transparency.checkpoint(context.installation(), name, context.user()),
                    mimetype=TEXT)


@bp.get("/datasets/<dataset>/proofs/inclusion")
def inclusion(dataset: str) -> Response:
    name = context.dataset_name_only(dataset)  # readable: checked in the proof's reads
    raw = request.args.get("event")
    if raw is None:
        raise Invalid("'event' is required: the uuid of the event to prove.")
    event = validation.parse_uuid(raw, "'event'")
    return jsonify(transparency.inclusion_proof(context.installation(), name, event,
                                                _tree_size("size"), context.user()))


@bp.get("/datasets/<dataset>/proofs/consistency")
def consistency(dataset: str) -> Response:
    name = context.dataset_name_only(dataset)  # readable: checked in the proof's reads
    old = _tree_size("from", required=True)
    assert old is not None
    return jsonify(transparency.consistency_proof(context.installation(), name, old,
                                                  _tree_size("to"), context.user()))
