"""The SQLite writer queue: an flock on a file beside the database that orders writers across
processes (a waiting writer wakes when the previous one commits, instead of polling in SQLite's
busy handler). It only orders writers; `BEGIN IMMEDIATE` still guarantees one at a time."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from pathlib import Path

import pytest

from gonk.storage import revision
from gonk.storage.database import Database, sqlite_url

FORK = multiprocessing.get_context("fork")


def _queue_is_taken(db_dir: Path) -> bool:
    fd = os.open(db_dir / "gonk.db.writers", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _write_until_released(database: Database, inside: object, release: object) -> None:
    with database.write() as conn:
        conn.exec_driver_sql("SELECT 1")
        inside.set()  # type: ignore[attr-defined]
        release.wait(30)  # type: ignore[attr-defined]


@pytest.mark.parametrize("parent_wrote_first", [False, True],
                         ids=["fresh-process", "forked-after-parent-wrote"])
def test_a_write_transaction_holds_the_queue_for_other_processes(
        tmp_path: Path, parent_wrote_first: bool) -> None:
    database = Database(sqlite_url(tmp_path))
    revision.upgrade(database)
    if parent_wrote_first:  # the forked child must open its own queue file, not share ours
        with database.write():
            pass
    inside, release = FORK.Event(), FORK.Event()
    child = FORK.Process(target=_write_until_released, args=(database, inside, release))
    child.start()
    try:
        assert inside.wait(30)
        assert _queue_is_taken(tmp_path)
        if parent_wrote_first:  # our own open queue file is refused too: it is not shared
            own = database._sqlite_queue._file()  # type: ignore[union-attr]
            with pytest.raises(BlockingIOError):
                fcntl.flock(own, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        release.set()
        child.join(30)
    assert child.exitcode == 0
    assert not _queue_is_taken(tmp_path)


def test_the_queue_is_free_between_writes(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path))
    revision.upgrade(database)
    with database.write() as conn:
        conn.exec_driver_sql("SELECT 1")
        assert _queue_is_taken(tmp_path)  # another open file of ours is refused too
    assert not _queue_is_taken(tmp_path)
