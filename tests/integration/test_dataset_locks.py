"""On PostgreSQL a write locks its own dataset's row and nothing else (issue 4, point 3):
while one dataset is locked, writes to it wait, and writes to every other dataset go through.

The lock is held by a separate connection (`SELECT ... FOR UPDATE`, exactly what a writer takes),
so the test knows when it is held and when it is released, without depending on timing: it
waits until PostgreSQL itself reports the blocked writer as waiting on a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from gonk import service
from gonk.installation import Installation
from gonk.users import add_user
from gonk.verify import verify_dataset

TIMEOUT = 30


@pytest.fixture(params=["postgres-files"])
def storage_kind(request: pytest.FixtureRequest) -> str:
    """Row locks are PostgreSQL's; SQLite has one write lock for the whole file (README)."""
    return request.param


def _libpq_url(installation: Installation) -> str:
    return installation.db.engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False)


@contextmanager
def _dataset_row_locked(installation: Installation, name: str) -> Iterator[int]:
    """Hold `name`'s row lock in a connection of our own; yields that connection's backend pid.
    Released (rolled back) when the block ends."""
    import psycopg

    with psycopg.connect(_libpq_url(installation)) as conn:
        row = conn.execute("SELECT id FROM datasets WHERE name = %s FOR UPDATE", (name,)).fetchone()
        assert row is not None
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        try:
            yield pid
        finally:
            conn.rollback()


def _backends_blocked_by(installation: Installation, holder_pid: int) -> list[int]:
    import psycopg

    with psycopg.connect(_libpq_url(installation), autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity "
                            "WHERE %s = ANY(pg_blocking_pids(pid))", (holder_pid,)).fetchall()
    return [pid for (pid,) in rows]


class Writer(threading.Thread):
    """Runs one call in a thread; keeps its result or exception."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.call()
        except BaseException as exc:
            self.error = exc


def _create(installation: Installation, dataset: str, name: str) -> Callable[[], Any]:
    return lambda: service.create_object(installation, dataset, "alice", name, "text/plain",
                                         f"{dataset}/{name}".encode())


def test_a_locked_dataset_holds_back_only_its_own_writes(installation: Installation) -> None:
    add_user(installation, "alice")
    for name in ("held", "free"):
        service.create_dataset(installation, "alice", name)

    with _dataset_row_locked(installation, "held") as holder:
        waiting = Writer(_create(installation, "held", "waits.txt"))
        waiting.start()
        deadline = time.monotonic() + TIMEOUT
        while not _backends_blocked_by(installation, holder):
            assert waiting.is_alive(), f"the write went through a held lock: {waiting.error}"
            assert time.monotonic() < deadline, "the write to the held dataset never waited"
            time.sleep(0.02)

        # Meanwhile the other dataset takes writes.
        def other_dataset_writes() -> list[dict[str, Any]]:
            return [_create(installation, "free", "a.txt")(),
                    _create(installation, "free", "b.txt")()]

        other = Writer(other_dataset_writes)
        other.start()
        other.join(TIMEOUT)
        assert not other.is_alive(), "a write to another dataset waited for the held lock"
        assert other.error is None, other.error
        assert [r["version"] for r in other.result] == [0, 0]

        # The held dataset's writer is still waiting: nothing of it is stored yet.
        assert waiting.is_alive()
        assert _backends_blocked_by(installation, holder)

    waiting.join(TIMEOUT)
    assert not waiting.is_alive(), "the write did not resume after the lock was released"
    assert waiting.error is None, waiting.error
    assert waiting.result["version"] == 0

    for name, events in (("held", 2), ("free", 3)):
        verdict = verify_dataset(installation, name)
        assert verdict.ok, verdict
        with installation.db.read() as conn:
            count = conn.exec_driver_sql("SELECT event_count FROM datasets WHERE name = %(n)s",
                                         {"n": name}).scalar()
        assert count == events, (name, count)
