"""Downloads keep their names: Content-Disposition on .../objects/<uuid>/<version>/bytes names
the file as the object is named (its last path component; RFC 6266 `filename*` beyond ASCII),
inline unless ?download=true, alike whether the blob is a local file or in a bucket."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from werkzeug.http import parse_options_header

from tests.support.api import DS, assert_error, create_object

BASE = f"/datasets/{DS}/objects"


def _disposition(client, uuid: str, version: int = 0, query: str = "",
                 headers: dict[str, str] | None = None) -> tuple[str, dict[str, str], int]:
    resp = client.get(f"{BASE}/{uuid}/{version}/bytes{query}",
                      headers={"x-api-key": client.key, **(headers or {})})
    value, params = parse_options_header(resp.headers["Content-Disposition"])
    return value, params, resp.status_code


def _raw_params(client, uuid: str) -> dict[str, str]:
    """The header's parameters as sent (parse_options_header merges filename* into filename)."""
    header = client.get(f"{BASE}/{uuid}/0/bytes").headers["Content-Disposition"]
    params = {}
    for piece in header.split(";")[1:]:
        key, _, value = piece.strip().partition("=")
        params[key] = value
    return params


@pytest.mark.parametrize(("name", "filename"), [
    ("owl.png", "owl.png"),
    ("2024/birds/owl.jpg", "owl.jpg"),
    ("field notes (v2).txt", "field notes (v2).txt"),
    ('say "hi"; now.txt', 'say "hi"; now.txt'),
    ("trailing/slash/", "slash"),
    ("no-extension", "no-extension"),
])
def test_download_is_named_by_the_object(alice, ds, name, filename):
    uuid = create_object(alice, f"bytes of {name}", name)
    value, params, status = _disposition(alice, uuid)
    assert status == 200
    assert value == "inline"
    assert params["filename"] == filename


def test_non_ascii_names_use_filename_star(alice, ds):
    uuid = create_object(alice, b"notes", "carnet/été à Montréal.txt")
    value, params, _ = _disposition(alice, uuid)
    assert value == "inline" and params["filename"] == "été à Montréal.txt"
    sent = _raw_params(alice, uuid)
    assert sent["filename*"].startswith("UTF-8''")
    assert unquote(sent["filename*"][len("UTF-8''"):]) == "été à Montréal.txt"
    assert sent["filename"].strip('"') == "ete a Montreal.txt"  # the ASCII fallback
    only_foreign = create_object(alice, b"bird", "鳥")
    sent = _raw_params(alice, only_foreign)
    assert unquote(sent["filename*"][len("UTF-8''"):]) == "鳥"
    assert sent["filename"] and sent["filename"].isascii()


def test_each_version_downloads_under_its_own_name(alice, ds):
    uuid = create_object(alice, b"first", "first.txt")
    resp = alice.request("PATCH", f"{BASE}/{uuid}?name=renamed/second.txt", data=b"second",
                         content_type="text/plain")
    assert resp.status_code == 200
    assert _disposition(alice, uuid, 0)[1]["filename"] == "first.txt"
    assert _disposition(alice, uuid, 1)[1]["filename"] == "second.txt"


def test_download_true_makes_it_an_attachment(alice, ds):
    uuid = create_object(alice, b"keep me", "keep.txt")
    value, params, status = _disposition(alice, uuid, query="?download=true")
    assert (value, params["filename"], status) == ("attachment", "keep.txt", 200)
    assert _disposition(alice, uuid, query="?download=false")[0] == "inline"
    assert_error(alice.get(f"{BASE}/{uuid}/0/bytes?download=yes"), 400, "'download'")


def test_the_name_survives_ranges_and_revalidation(alice, ds):
    uuid = create_object(alice, b"0123456789", "digits.txt")
    value, params, status = _disposition(alice, uuid, headers={"Range": "bytes=2-4"})
    assert (value, params["filename"], status) == ("inline", "digits.txt", 206)
    etag = alice.get(f"{BASE}/{uuid}/0/bytes").headers["ETag"]
    resp = alice.get(f"{BASE}/{uuid}/0/bytes",
                     headers={"x-api-key": alice.key, "If-None-Match": etag})
    assert resp.status_code == 304
