"""PostgreSQL for the tests: the server at GONK_TEST_POSTGRES_URL (default: this machine's,
postgresql://postgres@127.0.0.1:5432/test, trust auth). Each test run creates its own databases
(named gonk_test_<pid>_<n>) and drops them at the end.

Without a server the tests that need one skip with the reason, unless GONK_REQUIRE_SERVICES=1
(CI), which makes a missing service a failure.
"""

from __future__ import annotations

import itertools
import os

import pytest

ADMIN_URL = os.environ.get("GONK_TEST_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/test")
_counter = itertools.count(1)


def require_services() -> bool:
    return os.environ.get("GONK_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip (a laptop without the service) or fail (CI, GONK_REQUIRE_SERVICES=1)."""
    if require_services():
        pytest.fail(f"{reason} (GONK_REQUIRE_SERVICES=1 makes this a failure)", pytrace=False)
    pytest.skip(reason)


def _admin():  # type: ignore[no-untyped-def]
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed: pip install -e '.[test]'")
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable(f"no PostgreSQL server at {ADMIN_URL}: {str(exc).strip().splitlines()[0]}")


def _url_for(name: str) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def create_database(durable: bool = False) -> str:
    """A new, empty database; returns its URL. Tests need no durability across a power cut, so
    their commits do not wait for the disk; `durable` keeps the server's default (benchmarks)."""
    name = f"gonk_test_{os.getpid()}_{next(_counter)}"
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
        if not durable:
            conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return _url_for(name)


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# log_keys stays: the signing key made when the database was created
TABLES = ("merkle_nodes", "annotation_labels", "releases", "queue_leases", "object_queue", "annotate_floors", "owners", "members",
          "dataset_settings",
          "annotation_links", "versions", "items", "events", "datasets", "users")


def empty_database(url: str) -> None:
    """Remove every row (the schema stays), for the next test. DELETE, not TRUNCATE: on a
    test's few rows it is several times faster."""
    import psycopg

    with psycopg.connect(url) as conn:
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}")
