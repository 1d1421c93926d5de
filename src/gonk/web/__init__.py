"""The reviewers' web app (issue 15): an HTML shell at `/` and its static assets under `/app/`,
plain ES modules and CSS shipped in this package (no build step, nothing from elsewhere).

These routes are not API operations: they need no key (the page asks for one and keeps it in
the browser tab's sessionStorage; every API call it makes sends it), and they are not in the
OpenAPI document. The shell is sent with a Content-Security-Policy that lets it run only this
package's scripts and styles, and show images from blob: and data: URLs (thumbnails and full
images are fetched with the key, then shown through blob: URLs).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC = Path(__file__).parent / "static"

bp = Blueprint("web", __name__)

# no inline script or style anywhere; fetches go to this origin only
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# the endpoints that answer without a key (api/health.UNAUTHENTICATED includes them)
ENDPOINTS = ("web.index", "web.asset")


def _secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


@bp.get("/")
def index() -> Response:
    """The app's shell: one HTML page loading /app/js/app.js."""
    response = send_from_directory(STATIC, "index.html", mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return _secured(response)


@bp.get("/app/<path:filename>")
def asset(filename: str) -> Response:
    """A static file of the app (send_from_directory refuses any path outside the folder:
    404). Revalidated on each load (ETag), so an upgraded server's files are used at once."""
    response = send_from_directory(STATIC, filename)
    response.headers["Cache-Control"] = "no-cache"
    return _secured(response)
