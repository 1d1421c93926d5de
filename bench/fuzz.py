"""A longer Schemathesis run against a live `gonk-api serve` than the one in the test suite
(tests/fuzz/test_schemathesis.py), with the same checks: no 5xx, and every response conforming
to the server's own /openapi.json (status code, Content-Type, headers, body schema).

    python bench/fuzz.py                                   # 10 minutes on SQLite and files
    python bench/fuzz.py --minutes 30 --examples 500 --storage postgres-s3
    python bench/fuzz.py --storage sqlite-files --storage postgres-s3 --seed 7

For each storage combination: a fresh installation served by `gonk-api serve` on a free port,
the dataset of tests/support/fuzz.seed, then `st run` with the budget asked for; it prints
Schemathesis's own report, then what was covered: operations, requests, the statuses the server
answered (from its access log, per operation), failures. PostgreSQL must be reachable as the
tests reach it (tests/support/postgres.py); S3 is moto's server, started here.
Exits 1 if any run found a failure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import fuzz

STORAGE_KINDS = ("sqlite-files", "postgres-files", "sqlite-s3", "postgres-s3")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10,
                        help="time budget of each run (default 10)")
    parser.add_argument("--examples", type=int, default=200,
                        help="most generated cases per operation and phase (default 200)")
    parser.add_argument("--storage", action="append", choices=STORAGE_KINDS,
                        help="storage combination; repeat for several (default sqlite-files)")
    parser.add_argument("--seed", type=int, default=None, help="Schemathesis's seed")
    parser.add_argument("--workers", type=int, default=2,
                        help="Schemathesis's workers, and the server's (default 2)")
    parser.add_argument("--phases", default=",".join(fuzz.PHASES),
                        help=f"comma-separated (default {','.join(fuzz.PHASES)})")
    parser.add_argument("--checks", default=",".join(fuzz.CHECKS),
                        help=f"comma-separated (default {','.join(fuzz.CHECKS)})")
    parser.add_argument("--keep", action="store_true",
                        help="keep the working directory (access log, report)")
    args = parser.parse_args()

    failed = False
    for kind in args.storage or ["sqlite-files"]:
        workdir = Path(tempfile.mkdtemp(prefix=f"gonk-fuzz-{kind}-"))
        print(f"=== {kind}: {args.minutes:g} min, at most {args.examples} examples per "
              f"operation and phase (in {workdir})", flush=True)
        started = time.monotonic()
        with fuzz.served(workdir, kind, workers=args.workers) as site:
            fuzz.seed(site)
            document = requests.get(f"{site.base}/openapi.json", timeout=30).json()
            run = fuzz.run_schemathesis(site, workdir, max_examples=args.examples,
                                        max_time=max(1, round(args.minutes * 60)),
                                        seed_value=args.seed, workers=args.workers,
                                        phases=args.phases.split(","),
                                        checks=args.checks.split(","))
        print(run.output)
        covered = fuzz.coverage(document, site.access_log)
        report = run.report
        operations = report.get("operations", {})
        cases = report.get("test_cases", {})
        print(f"--- {kind}: what was covered")
        print(f"wall time: {time.monotonic() - started:.0f} s (schemathesis {run.seconds:.0f} s)"
              f", seed {report.get('seed')}")
        print(f"operations: {operations.get('tested')} tested of {operations.get('total')}; "
              f"answered 2xx: {len(covered.operations_with(2))}")
        print(f"test cases: {cases.get('generated')} generated, "
              f"{cases.get('with_failures')} with failures")
        print("\n".join(covered.lines()))
        failures = report.get("failures", []) + report.get("errors", [])
        print("failures: " + (", ".join(f"{f.get('code', '')} {f['title']} x{f['count']}"
                                        for f in failures) or "none"))
        failed = failed or run.returncode != 0
        if not args.keep:
            import shutil
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
