"""The client's pieces that need no server: Retry-After, what counts as "never sent", the
cache's checks and atomic writes, and that importing the server never imports the client."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests

import gonk
from gonk.client.cache import BlobCache
from gonk.client.http import not_sent, parse_retry_after
from tests.support.processes import free_port


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("5") == 5.0 and parse_retry_after(" 0 ") == 0.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 30
    past = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert parse_retry_after(past) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def test_a_refused_connection_is_never_sent() -> None:
    with pytest.raises(requests.ConnectionError) as refused:
        requests.get(f"http://127.0.0.1:{free_port()}/", timeout=5)
    assert not_sent(refused.value)
    assert not not_sent(requests.ConnectionError("Connection aborted."))
    assert not not_sent(requests.ReadTimeout("read timed out"))


def test_the_cache_checks_what_it_gives_and_writes_atomically(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache")
    data = b"0123456789" * 100_000
    digest = hashlib.sha256(data).hexdigest()
    assert cache.get(digest) is None
    with pytest.raises(gonk.IntegrityError):
        cache.put(digest, len(data), [data[:-1] + b"x"])
    with pytest.raises(gonk.IntegrityError):
        cache.put(digest, len(data) - 1, [data])  # more bytes than the size said
    assert not cache.path(digest).exists() and list((cache.root / "tmp").iterdir()) == []

    def put() -> None:
        cache.put(digest, len(data), (data[i:i + 4096] for i in range(0, len(data), 4096)))

    writers = [threading.Thread(target=put) for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert cache.get(digest, len(data)) == cache.path(digest)
    assert cache.path(digest).read_bytes() == data
    assert list((cache.root / "tmp").iterdir()) == []
    assert cache.get(digest, len(data) + 1) is None  # the wrong size: removed
    assert not cache.path(digest).exists()
    with pytest.raises(ValueError):
        cache.path("../../etc/passwd")


def test_the_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GONK_CACHE", str(tmp_path / "chosen"))
    assert BlobCache().root == tmp_path / "chosen"
    assert gonk.Client("http://127.0.0.1:1", "k").cache.root == tmp_path / "chosen"
    monkeypatch.delenv("GONK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert BlobCache().root == tmp_path / "xdg" / "gonk"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert BlobCache().root == Path.home() / ".cache" / "gonk"


def test_the_server_does_not_import_the_client() -> None:
    code = ("import sys, gonk, gonk.api, gonk.cli, gonk.server; "
            "assert 'gonk.client' not in sys.modules and 'requests' not in sys.modules; "
            "gonk.Client; assert 'gonk.client' in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
