"""GET /openapi.json and GET /docs: the OpenAPI 3.1 document (api/openapi.py) is valid, describes
exactly the app's routes, and is served, as JSON and as an HTML reference, without a key.

Whether every response conforms to it is tested against a live server by tests/fuzz/."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from gonk.api import create_app, openapi
from gonk.installation import Installation

# Flask adds these to every rule by itself (HEAD for GET, OPTIONS for all); the document's
# description says so once instead of listing them 38 times.
AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}
METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
CONVERTER = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The document does not depend on the storage: one app on SQLite and files."""
    installation = Installation.create(tmp_path_factory.mktemp("openapi") / "data", None, "")
    application = create_app(installation=installation)
    application.config["TESTING"] = True
    yield application
    installation.close()


@pytest.fixture(scope="module")
def document(app: Any) -> dict[str, Any]:
    response = app.test_client().get("/openapi.json")  # no key
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/json"
    return response.json


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


# The web app (gonk/web): its HTML shell at / and its static files under /app/ are pages for a
# browser, not operations of the API, so the document leaves them out.
NOT_API_OPERATIONS = {"web.index", "web.asset"}


def test_every_route_is_in_the_document_and_every_operation_is_a_route(
        app: Any, document: dict[str, Any]) -> None:
    routes = {(method, CONVERTER.sub(r"{\1}", rule.rule))
              for rule in app.url_map.iter_rules() if rule.endpoint not in NOT_API_OPERATIONS
              for method in rule.methods - AUTOMATIC_METHODS}
    operations = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in METHODS if method in item}
    assert routes - operations == set(), "routes the document does not describe"
    assert operations - routes == set(), "operations the app does not have"


def test_each_operation_is_complete(document: dict[str, Any]) -> None:
    """Unique operationIds; every path parameter declared; every authenticated operation
    documents 401 and 503, every operation with a body 400 and 413, every JSON body 415."""
    seen: set[str] = set()
    components = document["components"]

    def resolve(item: dict[str, Any]) -> dict[str, Any]:
        ref = item.get("$ref")
        return components["parameters"][ref.rsplit("/", 1)[-1]] if ref else item

    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            where = f"{method.upper()} {path}"
            assert op["operationId"] not in seen, where
            seen.add(op["operationId"])
            declared = {p["name"] for p in map(resolve, op["parameters"]) if p["in"] == "path"}
            assert declared == set(re.findall(r"{([a-z_]+)}", path)), where
            assert "200" in op["responses"], where
            if op.get("security") != []:
                assert {"401", "503"} <= set(op["responses"]), where
            if "requestBody" in op:
                assert {"400", "413"} <= set(op["responses"]), where
                if "application/json" in op["requestBody"]["content"]:
                    assert "415" in op["responses"], where
    public = [op for path in ("/health", "/openapi.json", "/docs")
              for op in document["paths"][path].values()]
    assert all(op["security"] == [] for op in public)


def test_links_name_operations_and_their_parameters(document: dict[str, Any]) -> None:
    """Every link (the fuzzer follows them: a created object's uuid into its load...) names an
    operation of the document and only parameters that operation has."""
    by_id: dict[str, dict[str, Any]] = {}
    for item in document["paths"].values():
        for method in METHODS:
            if method in item:
                by_id[item[method]["operationId"]] = item[method]
    links = 0
    for item in document["paths"].values():
        for op in (item[m] for m in METHODS if m in item):
            for response in op["responses"].values():
                for name, link in response.get("links", {}).items():
                    target = by_id[link["operationId"]]
                    params = {p.get("$ref", "").rsplit("/", 1)[-1] or p["name"]
                              for p in target["parameters"]}
                    params = {document["components"]["parameters"].get(p, {"name": p})["name"]
                              for p in params}
                    for key in link["parameters"]:
                        assert key.rpartition(".")[2] in params, (name, key)
                    links += 1
    assert links >= 20


def test_servers_name_the_root_the_client_reached(app: Any) -> None:
    client = app.test_client()
    assert client.get("/openapi.json").json["servers"] == [{"url": "/"}]
    behind_proxy = client.get("/openapi.json", environ_overrides={"SCRIPT_NAME": "/gonk"})
    assert behind_proxy.json["servers"] == [{"url": "/gonk"}]


def test_the_document_is_built_once_and_not_shared(app: Any) -> None:
    first = openapi.document()
    first["paths"].clear()
    assert openapi.document()["paths"], "a caller's change must not reach the next one"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("href", "src", "action") and value is not None:
                self.urls.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_docs_is_a_reference_with_nothing_from_elsewhere(app: Any,
                                                         document: dict[str, Any]) -> None:
    response = app.test_client().get("/docs")  # no key
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = _Page()
    page.feed(response.get_data(as_text=True))
    # every operation and every component schema has its section
    for item in document["paths"].values():
        for method in METHODS:
            if method in item:
                assert f"op-{item[method]['operationId']}" in page.ids
    for name in document["components"]["schemas"]:
        assert f"schema-{name}" in page.ids
    # every link stays on the page or on this server; no script, no asset fetched from a CDN
    for url in page.urls:
        assert url.startswith("#") or url == "openapi.json", url
        if url.startswith("#"):
            assert url[1:] in page.ids, url
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert "style" in page.tags  # the stylesheet is inlined
    text = " ".join(page.text)
    assert "x-api-key" in text
    assert "GET" in text and "/datasets/{dataset}/objects/{object_uuid}/{version}/bytes" in text


def test_the_templates_are_package_data() -> None:
    """A wheel or sdist must carry what /docs renders: pyproject's package-data globs cover
    every file of the templates folder."""
    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["gonk.api"]
    package = root / "src" / "gonk" / "api"
    files = [p.relative_to(package).as_posix() for p in (package / "templates").iterdir()]
    assert files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in globs), name
