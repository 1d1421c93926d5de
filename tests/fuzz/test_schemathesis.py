"""The whole API fuzzed by Schemathesis against a live `gonk-api serve` (SQLite and files), on a
bounded budget: every operation of the server's own /openapi.json, through Schemathesis's four
phases (the document's examples; the coverage phase's boundary and invalid values of every
parameter and body; random generation; stateful sequences that follow the document's links, such
as a created object's uuid into its load, download, update and deletion).

Every response must come from a server that did not fail (no 5xx) and conform to the document:
a documented status code, Content-Type and headers, and a body valid against its schema. Beyond
that, requests that violate the document are refused, a missing or wrong key is 401, and an
undocumented method is 405 with Allow (tests/support/fuzz.CHECKS, and fuzz.INAPPLICABLE for the
one exclusion). The longer run is bench/fuzz.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests

from tests.support import fuzz

pytestmark = pytest.mark.xdist_group("fuzz")

# The budget, in two runs against one server. First the document's examples, random generation
# and the stateful sequences that follow the document's links (a created object's uuid into its
# load, download, update and deletion), at most MAX_EXAMPLES cases per operation and phase, with
# no time limit: they request every operation and reach MUST_SUCCEED, so they run whole however
# busy the machine is. Then the coverage phase's boundary and invalid values of every parameter
# and body (about 2,500 requests, the bulk of the work), for at most MAX_SECONDS: on a quiet
# 2-core machine it finishes within them (16 s), on one loaded by the suite's other workers it
# stops there. (With one run of all four phases under a 60 s limit, the coverage phase used the time
# up on a loaded machine and the sequences never ran: 382 requests, short of MUST_SUCCEED.)
# A fixed seed, so that a CI run is reproducible (`st run --seed`); GONK_FUZZ_SEED picks another.
MAX_EXAMPLES = 12
MAX_SECONDS = 25
SEQUENCE_PHASES = ("examples", "fuzzing", "stateful")
VALUE_PHASES = ("coverage",)
SEED = int(os.environ.get("GONK_FUZZ_SEED", "20261123"))

# Operations the run must reach with a success, not only with refusals: the generated requests
# get past validation into the service and the stored data.
MUST_SUCCEED = ("POST /datasets", "POST /datasets/{dataset}/objects",
                "GET /datasets/{dataset}/objects/{segment}",
                "GET /datasets/{dataset}/objects/{object_uuid}/{version}",
                "GET /datasets/{dataset}/objects/{object_uuid}/{version}/bytes",
                "GET /datasets/{dataset}/schemas/{schema_name}/{version}",
                "GET /datasets/{dataset}/events", "GET /datasets/{dataset}/stats",
                "GET /datasets/{dataset}/releases/{release}/manifest")


def test_schemathesis_finds_no_server_error_and_no_response_outside_the_document(
        tmp_path: Path) -> None:
    started = time.monotonic()
    with fuzz.served(tmp_path) as site:
        fuzz.seed(site)
        document = requests.get(f"{site.base}/openapi.json", timeout=30).json()
        runs = []
        for name, phases, limit in (("sequences", SEQUENCE_PHASES, None),
                                    ("values", VALUE_PHASES, MAX_SECONDS)):
            workdir = tmp_path / name
            workdir.mkdir()
            runs.append(fuzz.run_schemathesis(site, workdir, max_examples=MAX_EXAMPLES,
                                              max_time=limit, seed_value=SEED, phases=phases,
                                              timeout=600))  # (a hung run, not a slow one)
    covered = fuzz.coverage(document, site.access_log)
    summary = "\n".join([*covered.lines(), *(
        f"schemathesis {', '.join(phases)}: {run.seconds:.1f} s"
        for phases, run in zip((SEQUENCE_PHASES, VALUE_PHASES), runs, strict=True)),
        f"whole test {time.monotonic() - started:.1f} s"])
    print(summary)

    for run in runs:
        assert run.returncode == 0, f"{run.output}\n{summary}"
        assert run.report["failures"] == [] and run.report["errors"] == [], run.report
    for run in runs[:1]:  # (the coverage run may stop at its time limit)
        operations = run.report["operations"]
        assert operations["tested"] == operations["total"] and not operations["errored"], \
            operations
    # no server error, as the server saw it (Schemathesis checks what it received)
    assert not any(status >= 500 for status in covered.statuses), summary
    # every operation of the document was requested, as the server's access log shows
    untouched = [op for op, counts in covered.by_operation.items() if not counts]
    assert untouched == [], summary
    reached = covered.operations_with(2)
    assert set(MUST_SUCCEED) <= reached, (set(MUST_SUCCEED) - reached, summary)
    assert covered.requests >= 500, summary
