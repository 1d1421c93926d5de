"""Label-format exports (labels/export.py), streamed as zip archives built on the fly:
`GET /datasets/<d>/releases/<name>/export?format=F[&files=true]` for a release, and
`GET /datasets/<d>/export?as_of=P&format=F[&files=true]` for any point (an event uuid or a
release name). `files` (default false) puts the object files in the archive; without them,
each record carries the URL of its object's bytes on this server.

Every check (the dataset, the point, the format) and the reading of the content happen before
the answer starts, so a refusal is a JSON error; the archive then streams, one zip entry after
another, with no Content-Length.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..domain.errors import Invalid
from ..labels import export as label_export
from ..labels.output import zip_stream
from . import context, parsing

bp = Blueprint("label_exports", __name__, url_prefix="/datasets/<dataset>")


def _archive(dataset: str, point: str, release_only: bool) -> Response:
    format = request.args.get("format")
    if format is None:
        raise Invalid(f"'format' is required: one of {', '.join(label_export.FORMATS)}.")
    files = parsing.flag("files", False)
    job = label_export.open_export(context.installation(), dataset, point, format, files,
                                   base_url=request.host_url.rstrip("/") + request.script_root,
                                   release_only=release_only)
    job.gather()
    response = Response(zip_stream(job.files()), mimetype="application/zip")
    filename = f"{dataset}-{job.point_name}-{format}.zip"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/releases/<release>/export")
def export_release(dataset: str, release: str) -> Response:
    return _archive(context.dataset(dataset), release, release_only=True)


@bp.get("/export")
def export_point(dataset: str) -> Response:
    name = context.dataset(dataset)
    point = parsing.point()
    if point is None:
        raise Invalid("'as_of' is required: the event uuid or release name to export at.")
    return _archive(name, point, release_only=False)
