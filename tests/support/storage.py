"""Installations of every storage kind for the tests: SQLite or PostgreSQL for the database,
files or S3 for the blobs (STORAGE_KINDS). `process_storage` gives the environment of a fresh
installation for `gonk-api` processes, `running_site` initialises one and starts a server on it,
and `installed_blobs` opens its blob store for a test to look inside. The in-process installation
of the API suite is the `installation` fixture of tests/conftest.py."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest

from gonk.storage.blobs import BlobStore, open_blob_store
from tests.support import postgres, processes, s3

STORAGE_KINDS = ["sqlite-files", "postgres-files", "sqlite-s3", "postgres-s3"]

# The two combinations that between them exercise each database and each blob store: SQLite +
# files and PostgreSQL + S3. The database and the blob store are separate layers that meet only
# through the service, so the mixed pairs add no code path to most tests. These run on both
# ends: the in-process suite (the `installation` fixture: tests/api and most of
# tests/integration) and the end-to-end modules whose subject is not how storage is wired
# (the seed's examples, `serve`, `import`). All four combinations, mixed pairs included, run the
# client's main flows end to end (tests/client/test_storage_kinds.py). GONK_TEST_STORAGE=all runs
# every storage-parametrized test on all four.
ALL_STORAGE_REQUESTED = os.environ.get("GONK_TEST_STORAGE") == "all"
BOTH_ENDS = STORAGE_KINDS if ALL_STORAGE_REQUESTED else ["sqlite-files", "postgres-s3"]
IN_PROCESS_STORAGE_KINDS = BOTH_ENDS


@contextlib.contextmanager
def process_storage(kind: str,
                    request: pytest.FixtureRequest | None = None) -> Iterator[dict[str, str]]:
    """The environment for `gonk-api` processes on a fresh installation of `kind` (one of
    STORAGE_KINDS): a new PostgreSQL database and/or a new bucket when asked for; the database
    is dropped afterwards. The data directory still comes from --data-dir. (`request` is not
    needed: moto's server is the process's one, s3.start_s3_server; bench/ calls this too.)"""
    database_kind, blob_kind = kind.split("-")
    env: dict[str, str] = {}
    url = None
    if database_kind == "postgres":
        url = postgres.create_database()
        env["GONK_DATABASE_URL"] = url
    if blob_kind == "s3":
        endpoint = s3.start_s3_server()
        env.update(s3.s3_env(endpoint))
        env["GONK_BLOB_URL"] = f"s3://{s3.new_bucket(endpoint)}/gonk"
    try:
        yield processes.clean_env(**env)
    finally:
        if url:
            postgres.drop_database(url)


@contextlib.contextmanager
def running_site(data_dir: Path, kind: str, request: pytest.FixtureRequest, users: Sequence[str],
                 command: str = "run", args: Sequence[str] = (),
                 **server_options: Any) -> Iterator[SimpleNamespace]:
    """A fresh installation of `kind` (process_storage) in `data_dir`: `init` with the first of
    `users`, `users add` for the others, then `gonk-api <command>` on a free port, stopped at
    the end. Yields server, base, host, data_dir, env, keys (in the order of `users`) and key
    (the first user's)."""
    first, *more = users
    with process_storage(kind, request) as env:
        keys = []
        for argv in (("init", "--username", first), *(("users", "add", name) for name in more)):
            done = processes.run_cli(*argv, data_dir=data_dir, env=env)
            assert done.returncode == 0, done.stderr
            keys.append(processes.last_line(done.stdout))
        server = processes.start_server(data_dir, keys[0], command, args, env=env,
                                        **server_options)
        try:
            yield SimpleNamespace(server=server, base=server.base, host=server.host,
                                  data_dir=data_dir, env=env, keys=keys, key=keys[0])
        finally:
            server.stop()


def installed_blobs(data_dir: Path, env: dict[str, str]) -> BlobStore:
    """The blob store of an installation made by `process_storage` (its environment `env`), for
    a test to look at what is stored: the data directory's files, or the S3 bucket."""
    url = env.get("GONK_BLOB_URL", "")
    if url.startswith("s3://"):
        from gonk.storage.blobs.s3 import S3BlobStore

        parts = urlsplit(url)
        return S3BlobStore(parts.netloc, parts.path.strip("/"),
                           client=s3.s3_client(env["AWS_ENDPOINT_URL"]))
    return open_blob_store(url, data_dir)
