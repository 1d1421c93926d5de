"""How long a request waits when storage fails, and how soon the server works again; prints figures.

    python bench/outages.py            # needs PostgreSQL at 127.0.0.1:5432 and moto installed

For PostgreSQL and for S3 (moto's server), each reached through a FaultyLink
(tests/support/proxy.py), and for each fault (`refuse`: the service stopped; `blackhole`: it
accepts connections and never answers): the time until a request answers 503 (median of 5), and
the time from the service coming back to the first 200. The default GONK_STORAGE_TIMEOUT (10 s)
applies unless set in the environment. Tests never assert on time; this script only prints.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script: put the repository root on the path for tests.support.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gonk.api import create_app  # noqa: E402
from gonk.installation import Installation  # noqa: E402
from gonk.users import add_user  # noqa: E402
from tests.support import postgres, s3  # noqa: E402
from tests.support.http import Client, b64  # noqa: E402
from tests.support.proxy import FaultyLink  # noqa: E402

ROUNDS = 5


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def _measure(component: str, fault: str, data_dir: Path) -> tuple[float, float]:
    database_url = blob_url = None
    created = None
    if component == "database":
        created = postgres.create_database()
        link = FaultyLink(_port(created))
        database_url = created.replace(f":{_port(created)}/", f":{link.port}/")
    else:
        endpoint = s3.start_s3_server()
        bucket = s3.new_bucket(endpoint)
        link = FaultyLink(_port(endpoint))
        os.environ.update(s3.s3_env(f"http://127.0.0.1:{link.port}"))
        blob_url = f"s3://{bucket}/bench"
    try:
        installation = Installation.create(data_dir, database_url, blob_url)
        app = create_app(installation=installation)
        alice = Client(app.test_client(), add_user(installation, "alice"), "alice")
        alice.post("/datasets", {"name": "birds"})
        waits = []
        for number in range(ROUNDS):
            getattr(link, fault)()
            start = time.monotonic()
            response = alice.post("/datasets/birds/objects", {
                "name": f"{number}.txt", "mimetype": "text/plain", "object": b64(str(number))})
            waits.append(time.monotonic() - start)
            assert response.status_code == 503, response.status_code
            link.restore()
        getattr(link, fault)()
        alice.get("/health")
        link.restore()
        start = time.monotonic()
        while alice.get("/health").status_code != 200:
            time.sleep(0.05)
        recovered = time.monotonic() - start
        installation.close()
        return statistics.median(waits), recovered
    finally:
        link.close()
        if created:
            postgres.drop_database(created)


def main() -> None:
    logging.disable(logging.WARNING)  # each 503 logs its reason; here only the figures matter
    timeout = os.environ.get("GONK_STORAGE_TIMEOUT", "10 (default)")
    print(f"GONK_STORAGE_TIMEOUT={timeout}; median of {ROUNDS} requests each")
    print(f"{'component':<12} {'fault':<10} {'until 503':>10} {'back to 200':>12}")
    with tempfile.TemporaryDirectory() as scratch:
        for component in ("database", "blob store"):
            for fault in ("refuse", "blackhole"):
                data_dir = Path(scratch) / f"{component}-{fault}".replace(" ", "-")
                wait, recovered = _measure(component, fault, data_dir)
                print(f"{component:<12} {fault:<10} {wait:>9.2f}s {recovered:>11.2f}s",
                      flush=True)


if __name__ == "__main__":
    main()
