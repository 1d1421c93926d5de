"""Schemathesis against a live `gonk-api serve`, for the fuzz test (tests/fuzz/) and its longer
run (bench/fuzz.py): a fresh installation of any storage kind served on a free port, a dataset
with something in it for the generated requests to reach, `st run` on the server's own
/openapi.json, and a summary of what it covered, read from the server's access log (every
request the server answered, whoever sent it) and Schemathesis's JSON report.

Imports nothing from pytest at module level, so bench/fuzz.py runs without it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule

from tests.support import processes
from tests.support.storage import process_storage

# Every response must come from a server that did not fail (no 5xx), and conform to the
# document: its status code is documented for the operation, its Content-Type is one the
# document gives, its headers are as documented (required ones present, values matching their
# schemas), and its body validates against the documented schema.
# Beyond those: a request that violates the document is refused with a 4xx
# (negative_data_rejection; INAPPLICABLE below says where it cannot hold); a request
# without the key, or with a wrong one, is 401 (ignored_auth); a method the document does not
# give a path is 405 with an Allow header naming the documented ones (unsupported_method,
# allow_header_conformance); a created resource can be read back (ensure_resource_availability);
# dropping a required header is refused (missing_required_header). Left out: use_after_free
# (it takes a 200 DELETE to remove the resource, where Gonk's only proposes the deletion, which
# stays readable: inapplicable) and positive_data_acceptance (much of what the document allows is
# refused by the dataset's state or by rules JSON Schema cannot state: an unknown release, a
# schema that is not valid JSON Schema, ?name= with ?prefix=).
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance",
          "negative_data_rejection", "ignored_auth", "unsupported_method",
          "allow_header_conformance", "ensure_resource_availability", "missing_required_header")
PHASES = ("examples", "coverage", "fuzzing", "stateful")
DATASET = "birds"  # the name the document's examples use
LABEL_SCHEMA = b'{"type": "object", "properties": {"label": {"type": "string"}}, ' \
               b'"required": ["label"]}'
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
REQUEST_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3}) ')


@dataclass
class Site:
    base: str
    key: str
    data_dir: Path
    access_log: Path
    seeded: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def served(workdir: Path, kind: str = "sqlite-files", workers: int = 2,
           extra_args: Sequence[str] = ()) -> Iterator[Site]:
    """`gonk-api serve` on a fresh installation of `kind` in `workdir`, its access log in
    `workdir/access.log`; stopped at the end."""
    data_dir = workdir / "gonk-data"
    access_log = workdir / "access.log"
    with process_storage(kind) as env:
        done = processes.run_cli("init", "--username", "alice", data_dir=data_dir, env=env)
        assert done.returncode == 0, done.stderr
        key = processes.last_line(done.stdout)
        server = processes.start_server(
            data_dir, key, "serve",
            ["--workers", str(workers), "--access-log", str(access_log), *extra_args], env=env)
        try:
            yield Site(server.base, key, data_dir, access_log)
        finally:
            server.stop()


def seed(site: Site) -> dict[str, Any]:
    """A dataset (DATASET, the name of the document's examples) holding a schema, two objects
    and an annotation, some accepted, and a release: so that the generated requests, the
    examples and the links have real things to reach."""
    session = requests.Session()
    session.headers["x-api-key"] = site.key

    def call(method: str, path: str, **kwargs: Any) -> Any:
        response = session.request(method, f"{site.base}{path}", timeout=30, **kwargs)
        assert response.status_code == 200, (method, path, response.status_code, response.text)
        return response.json()

    d = f"/datasets/{DATASET}"
    call("POST", "/datasets", json={"name": DATASET})
    schema = call("POST", f"{d}/schemas", json={"name": "schema-label",
                                                 "schema": _b64(LABEL_SCHEMA)})
    # a real image, first in the list (a link of listObjects leads to its thumbnail)
    photo = call("POST", f"{d}/objects", params={"name": "owl.jpg"}, data=_photo(),
                 headers={"Content-Type": "image/jpeg"})
    first = call("POST", f"{d}/objects", json={"name": "birds.txt", "mimetype": "text/plain",
                                                "object": _b64(b"two birds")})
    second = call("POST", f"{d}/objects", params={"name": "owl.png"},
                  data=b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
                  headers={"Content-Type": "image/png"})
    for event in call("GET", f"{d}/events", params={"pending": "true"}):
        call("PUT", f"{d}/events/{event['uuid']}/accept")
    annotation = call("POST", f"{d}/annotations", json={
        "schema": {"name": "schema-label", "version": 0},
        "object_identifiers": [first],
        "annotation": _b64(b'{"label": "bird"}')})
    release = call("POST", f"{d}/releases", json={"name": "v1.0",
                                                   "description": "the accepted objects"})
    site.seeded = {"schema": schema, "objects": [first, second, photo], "annotation": annotation,
                   "release": release}
    return site.seeded


def _photo() -> bytes:
    """A small JPEG made with Pillow (the test extra has it)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float
    report: dict[str, Any]


def run_schemathesis(site: Site, workdir: Path, *, max_examples: int, max_time: int | None,
                     seed_value: int | None = None, workers: int = 2,
                     phases: Sequence[str] = PHASES, checks: Sequence[str] = CHECKS,
                     timeout: float | None = None) -> Run:
    """`st run` on the server's /openapi.json with the key, the checks and a budget: at most
    `max_examples` generated cases per operation and phase, and `max_time` seconds for the
    whole run (Schemathesis stops starting new cases then). Returns its exit status, its
    output and its JSON report."""
    report = workdir / "schemathesis.json"
    config = workdir / "schemathesis.toml"
    config.write_text(_config(checks))
    argv = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
            "run", f"{site.base}/openapi.json",
            "--header", f"x-api-key: {site.key}", "--phases", ",".join(phases),
            "--max-examples", str(max_examples), "--workers", str(workers),
            "--generation-database", "none", "--request-timeout", "30",
            "--no-color", "--output-truncate", "true",
            "--report", "json", "--report-json-path", str(report)]
    if max_time is not None:
        argv += ["--max-time", str(max_time)]
    if seed_value is not None:
        argv += ["--seed", str(seed_value)]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=workdir, timeout=timeout,
                          check=False, env=processes.clean_env(SCHEMATHESIS_HOOKS=str(HOOKS)))
    seconds = time.monotonic() - started
    loaded = json.loads(report.read_text()) if report.exists() else {}
    return Run(done.returncode, done.stdout + done.stderr, seconds, loaded)


# Checks that cannot hold for some operations, and why: {check: ([operationId], reason)}.
INAPPLICABLE = {
    "negative_data_rejection": (
        ["createObject", "updateObject"],
        "With ?name=, a body of any Content-Type, application/json included, is the object's "
        "raw bytes (README, 'Raw bytes'), so a body that breaks the schema of the JSON form is "
        "rightly stored then; OpenAPI cannot make a body's schema depend on a query parameter. "
        "Every other check still applies to these operations."),
}


def _config(checks: Sequence[str]) -> str:
    """Schemathesis's configuration (schemathesis.toml): the checks, each enabled everywhere
    but where INAPPLICABLE says it cannot hold. (Checks named on the command line would
    override the per-operation exclusions, so they are set here.)"""
    lines = ["[checks]", "enabled = false"]
    lines += [f"{check}.enabled = true" for check in checks]
    if "negative_data_rejection" in checks:
        # Schemathesis's own list, plus the refusals of a request too large to read: a request
        # that breaks the document may do so by being long (a query of hundreds of generated
        # parameters), and then the HTTP server refuses it with 413, 414 or 431 before Gonk
        # sees it, as the document says for every operation.
        statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "414", "415",
                    "422", "428", "429", "431"]
        lines.append(f"negative_data_rejection.expected-statuses = {json.dumps(statuses)}")
    for check, (operation_ids, reason) in INAPPLICABLE.items():
        if check in checks:
            lines += ["", f"# {reason}", "[[operations]]",
                      f"include-operation-id = {json.dumps(operation_ids)}",
                      f"checks.{check}.enabled = false"]
    return "\n".join(lines) + "\n"


@dataclass
class Coverage:
    """What the server answered during a run, per operation of the document."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: dict[str, Counter[int]] = field(default_factory=dict)
    unmatched: int = 0  # requests to no documented operation (unknown paths or methods)

    def operations_with(self, status_class: int) -> set[str]:
        return {op for op, counts in self.by_operation.items()
                if any(status // 100 == status_class for status in counts)}

    def lines(self) -> list[str]:
        out = [f"requests: {self.requests} ({self.unmatched} to no documented operation)",
               "statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))]
        for op in sorted(self.by_operation):
            counts = self.by_operation[op]
            out.append(f"  {op:55} {sum(counts.values()):6}  "
                       + " ".join(f"{s}x{n}" for s, n in sorted(counts.items())))
        return out


def coverage(document: dict[str, Any], access_log: Path) -> Coverage:
    """Each request of the access log matched to the document's operation (method and path
    template), with the statuses the server answered."""
    rules = [Rule(re.sub(r"{([a-z_]+)}", r"<\1>", path), methods=[method.upper()],
                  endpoint=f"{method.upper()} {path}")
             for path, item in document["paths"].items() for method in item
             if method in ("get", "put", "post", "patch", "delete")]
    adapter = Map(rules, merge_slashes=False).bind("localhost")
    result = Coverage(by_operation={rule.endpoint: Counter() for rule in rules})
    for line in access_log.read_text(errors="replace").splitlines():
        found = REQUEST_LINE.search(line)
        if found is None:
            continue
        method, target, status_text = found.groups()
        status = int(status_text)
        result.requests += 1
        result.statuses[status] += 1
        try:
            endpoint, _ = adapter.match(requests.utils.unquote(target.partition("?")[0]),
                                        method="GET" if method == "HEAD" else method)
        except HTTPException:
            result.unmatched += 1
            continue
        result.by_operation[str(endpoint)][status] += 1
    return result
