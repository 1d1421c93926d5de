"""GET /datasets/<d>/stats: counts of objects, schemas and annotations by status, the bytes and
annotated objects of the content, and per-label counts of label kind annotations, now or
?as_of= a point (an event uuid or a release name: 400 for neither shape, 404 for an unknown
one). Any user with a key may read them; see gonk/stats.py for what each count means."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .. import stats
from . import context, parsing

bp = Blueprint("stats", __name__, url_prefix="/datasets/<dataset>")


@bp.get("/stats")
def dataset_stats(dataset: str) -> Response:
    name = context.dataset(dataset)
    return jsonify(stats.dataset_stats(context.installation(), name, parsing.point()))
