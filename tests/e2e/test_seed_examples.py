"""End to end: the seed's code examples, in the seed's order, against a real `gonk-api run`
started by a real `gonk-api init`; and the command line's behaviour from SPEC section 2.

The seed's client functions (its examples with `print` replaced by `return resp`, using nothing
but `requests`, as a seed client would) and the walk through them are in tests/support/seed.py.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from tests.support.api import sha256
from tests.support.s3 import use_s3_endpoint
from tests.support.seed import (
    TIMEOUT,
    annotation_create,
    create_dataset,
    event_accept,
    event_reject,
    list_datasets,
    object_create,
    object_details,
    ok,
    owner_add,
    schema_create,
    schema_update,
    seed_code_examples_in_order,
)
from tests.support.storage import (
    ALL_STORAGE_REQUESTED,
    BOTH_ENDS,
    STORAGE_KINDS,
    process_storage,
    running_site,
)

# One `site` per storage combination serves several tests: under pytest-xdist they stay on one
# worker, so each site starts once.
pytestmark = pytest.mark.xdist_group("seed-examples")


# --- the running installation -----------------------------------------------------------------


@pytest.fixture(scope="module", params=BOTH_ENDS)
def site(tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    """`gonk-api init`, `gonk-api users add user-two`, then `gonk-api run` on a free port; on
    SQLite + files and PostgreSQL + S3 (the mixed pairs run the client's main flows end to end,
    tests/client/test_storage_kinds.py; all four here with GONK_TEST_STORAGE=all)."""
    with running_site(tmp_path_factory.mktemp("seed") / "gonk-data", request.param, request,
                      ("user-one", "user-two")) as site:
        site.key_two = site.keys[1]
        yield site


# --- the seed, in order -----------------------------------------------------------------------


def test_seed_code_examples_in_order(site: SimpleNamespace, gonk_proc: Any) -> None:
    seed_code_examples_in_order(site, gonk_proc)


def test_seed_annotation_does_not_conform_to_first_schema_version_with_points_required(
        site: SimpleNamespace) -> None:
    """The annotation is checked against the version it names: {"label"} alone fails v1."""
    host, key, ds = site.host, site.key, "conformance"
    ok(create_dataset(host, key, ds))
    ok(schema_create(host, key, ds))
    ok(schema_update(host, key, ds, "schema-example"))
    object_uuid = ok(object_create(host, key, ds))["uuid"]
    resp = requests.post(
        f"http://{host}/datasets/{ds}/annotations", headers={"x-api-key": key},
        json={"schema": {"name": "schema-example", "version": 1},
              "object_identifiers": [{"uuid": object_uuid, "version": 0}],
              "annotation": base64.b64encode(b'{"label": "bird"}').decode()}, timeout=TIMEOUT)
    assert resp.status_code == 422, resp.text
    assert "error" in resp.json()
    # ... and conforms to version 0 (label only), so the same request naming v0 is accepted.
    resp = annotation_create(host, key, ds, object_uuid, 0, schema_version=0)
    assert ok(resp)["version"] == 0


def test_non_owner_cannot_review_or_manage_owners(site: SimpleNamespace) -> None:
    host, ds = site.host, "owned-by-one"
    ok(create_dataset(host, site.key, ds))
    object_uuid = ok(object_create(host, site.key_two, ds))["uuid"]  # anyone may propose
    event_uuid = ok(object_details(host, site.key, ds, object_uuid, 0))["events"][0]["uuid"]
    assert event_accept(host, site.key_two, ds, event_uuid).status_code == 403
    assert owner_add(host, site.key_two, ds, "user-two").status_code == 403
    assert ok(event_accept(host, site.key, ds, event_uuid)) == {"uuid": event_uuid}
    assert event_reject(host, site.key, ds, event_uuid).status_code == 409


def test_rekey_makes_the_old_key_401_at_once(site: SimpleNamespace, gonk_proc: Any) -> None:
    host, old_key = site.host, site.key_two
    assert list_datasets(host, old_key).status_code == 200
    rekeyed = gonk_proc.run_cli("users", "rekey", "user-two", data_dir=site.data_dir,
                                env=site.env)
    assert rekeyed.returncode == 0, rekeyed.stderr
    new_key = gonk_proc.last_line(rekeyed.stdout)
    assert new_key != old_key
    # the very next request, against the server that was already running
    resp = list_datasets(host, old_key)
    assert resp.status_code == 401 and "error" in resp.json()
    assert list_datasets(host, new_key).status_code == 200
    assert list_datasets(host, site.key).status_code == 200  # other users are untouched
    site.key_two = new_key
    assert requests.get(f"http://{host}/datasets", timeout=TIMEOUT).status_code == 401


# --- the command line (SPEC section 2) --------------------------------------------------------


def tree(path: Path) -> dict[str, str]:
    """Every file under path with a hash of its bytes."""
    return {str(p.relative_to(path)): sha256(p.read_bytes())
            for p in sorted(path.rglob("*")) if p.is_file()}


@dataclass
class Installation:
    """Where a test's `gonk-api` commands keep their data: `data_dir` and the environment `env`
    that names the storage (process_storage)."""

    data_dir: Path
    env: dict[str, str]

    def cli(self, gonk_proc: Any, *args: str) -> Any:
        return gonk_proc.run_cli(*args, data_dir=self.data_dir, env=self.env)

    def open(self) -> Any:
        from gonk.installation import Installation

        return Installation.open(self.data_dir, self.env.get("GONK_DATABASE_URL"),
                             self.env.get("GONK_BLOB_URL"))

    def key_owner(self, key: str) -> str | None:
        from gonk.users import user_for_key

        installation = self.open()
        try:
            return user_for_key(installation, key)
        finally:
            installation.close()

    def users_table(self) -> list[tuple[Any, ...]]:
        """Every row of the users table, as stored."""
        from sqlalchemy import select

        from gonk.storage import tables

        installation = self.open()
        try:
            with installation.db.read() as conn:
                rows = conn.execute(select(tables.users).order_by(tables.users.c.name)).all()
            return [tuple(row) for row in rows]
        finally:
            installation.close()

    def snapshot(self) -> tuple[Any, ...]:
        """What a command that must change nothing must leave as it is: the files of the data
        directory (with SQLite, the database itself) and the users table."""
        files = tree(self.data_dir) if self.data_dir.exists() else {}
        return files, self.users_table()


# The commands' refusals are the same code on every storage: the two extremes here (the module's
# `site` runs the seed's examples on all four; tests/e2e/test_storage_config.py wires each kind).
@pytest.fixture(params=["sqlite-files", "postgres-s3"])
def installation(tmp_path: Path, request: pytest.FixtureRequest,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Installation]:
    """A place for a new installation of each storage combination, not yet initialised. The
    S3 variables are also set in this process, so that the test can open it too."""
    with process_storage(request.param, request) as env:
        if "AWS_ENDPOINT_URL" in env:
            use_s3_endpoint(monkeypatch, env["AWS_ENDPOINT_URL"])
        yield Installation(data_dir=tmp_path / "gonk-data", env=env)


@pytest.mark.parametrize("args", [
    ("users", "list"), ("users", "add", "someone"), ("users", "rekey", "someone"),
    ("run", "--port", "1"), ("verify",),
])
def test_any_command_before_init_fails_and_says_run_init(tmp_path: Path, gonk_proc: Any,
                                                         args: tuple[str, ...]) -> None:
    data_dir = tmp_path / "gonk-data"
    result = gonk_proc.run_cli(*args, data_dir=data_dir)
    assert result.returncode == 1
    assert "init" in (result.stdout + result.stderr)
    assert "Traceback" not in result.stderr
    assert not data_dir.exists()  # nothing was created


# The user-name and key checks below are the command's own, before any storage is touched
# beyond `init`: SQLite + files only (all four with GONK_TEST_STORAGE=all).
ONE_END = STORAGE_KINDS if ALL_STORAGE_REQUESTED else ["sqlite-files"]


def test_init_twice_fails_and_changes_nothing(installation: Installation, gonk_proc: Any) -> None:
    first = installation.cli(gonk_proc, "init", "--username", "alice")
    assert first.returncode == 0, first.stderr
    key = gonk_proc.last_line(first.stdout)
    before = installation.snapshot()
    for username in ("alice", "mallory"):
        again = installation.cli(gonk_proc, "init", "--username", username)
        assert again.returncode == 1
        assert again.stderr.strip() and "Traceback" not in again.stderr
        assert installation.snapshot() == before
    listed = installation.cli(gonk_proc, "users", "list")
    assert listed.returncode == 0 and listed.stdout.splitlines() == ["alice"]
    assert installation.key_owner(key) == "alice"


@pytest.mark.parametrize("installation", ONE_END, indirect=True)
def test_keys_are_alone_on_the_last_line_and_work(installation: Installation,
                                                  gonk_proc: Any) -> None:
    init = installation.cli(gonk_proc, "init", "--username", "alice")
    added = installation.cli(gonk_proc, "users", "add", "bob.smith_2-x")
    rekeyed = installation.cli(gonk_proc, "users", "rekey", "alice")
    keys = []
    for result in (init, added, rekeyed):
        assert result.returncode == 0, result.stderr
        assert result.stdout.endswith("\n")
        line = result.stdout.splitlines()[-1]
        assert line == line.strip() and " " not in line and len(line) >= 32
        keys.append(line)
    assert len(set(keys)) == 3
    assert installation.key_owner(keys[0]) is None  # replaced by the rekey
    assert installation.key_owner(keys[1]) == "bob.smith_2-x"
    assert installation.key_owner(keys[2]) == "alice"
    listed = installation.cli(gonk_proc, "users", "list")
    assert listed.returncode == 0
    assert sorted(listed.stdout.splitlines()) == ["alice", "bob.smith_2-x"]
    # keys are stored only as hashes: in no row, and (SQLite) nowhere in the database's files
    stored = repr(installation.users_table())
    files = b"".join(p.read_bytes() for p in installation.data_dir.glob("gonk.db*"))
    for k in keys:
        assert k not in stored
        assert k.encode() not in files


@pytest.mark.parametrize("installation", ONE_END, indirect=True)
def test_users_add_existing_and_rekey_unknown_fail(installation: Installation,
                                                   gonk_proc: Any) -> None:
    init = installation.cli(gonk_proc, "init", "--username", "alice")
    key = gonk_proc.last_line(init.stdout)
    again = installation.cli(gonk_proc, "users", "add", "alice")
    assert again.returncode == 1
    assert "alice" in again.stderr and "Traceback" not in again.stderr
    assert installation.key_owner(key) == "alice"  # the existing user's key still works
    unknown = installation.cli(gonk_proc, "users", "rekey", "nobody")
    assert unknown.returncode == 1
    assert "nobody" in unknown.stderr and "Traceback" not in unknown.stderr
    listed = installation.cli(gonk_proc, "users", "list")
    assert listed.stdout.splitlines() == ["alice"]


BAD_USERNAMES = ["has space", "x" * 65, "émile", "a:b/c"]


@pytest.mark.parametrize("installation", ONE_END, indirect=True)
def test_bad_usernames_are_refused(installation: Installation, gonk_proc: Any) -> None:
    run = {"data_dir": installation.data_dir, "env": installation.env}
    for result in gonk_proc.run_many(
            *[("init", "--username", bad) for bad in ("", BAD_USERNAMES[0])], **run):
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.strip()
    not_yet = installation.cli(gonk_proc, "users", "list")  # the refused inits made nothing
    assert not_yet.returncode == 1 and "init" in not_yet.stderr
    assert not (installation.data_dir / "gonk.db").exists()
    init = installation.cli(gonk_proc, "init", "--username", "x" * 64)
    assert init.returncode == 0, init.stderr
    before = installation.snapshot()
    for result in gonk_proc.run_many(
            *[("users", "add", bad) for bad in BAD_USERNAMES],
            ("users", "rekey", BAD_USERNAMES[1]), **run):
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.strip()
    assert installation.snapshot() == before
    listed = installation.cli(gonk_proc, "users", "list")
    assert listed.stdout.splitlines() == ["x" * 64]


def test_data_dir_defaults_to_the_working_directory_and_follows_the_env_var(
        tmp_path: Path, gonk_proc: Any) -> None:
    # no option, no env var: ./gonk-data in the current directory, so init and run agree
    init = gonk_proc.run_cli("init", "--username", "alice", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "gonk-data" / "gonk.db").is_file()
    listed = gonk_proc.run_cli("users", "list", cwd=tmp_path)
    assert listed.stdout.splitlines() == ["alice"]
    # GONK_DATA_DIR points elsewhere
    elsewhere = tmp_path / "elsewhere"
    env = gonk_proc.clean_env(GONK_DATA_DIR=str(elsewhere))
    assert gonk_proc.run_cli("users", "list", cwd=tmp_path, env=env).returncode == 1
    init = gonk_proc.run_cli("init", "--username", "bob", cwd=tmp_path, env=env)
    assert init.returncode == 0, init.stderr
    assert (elsewhere / "gonk.db").is_file()
    assert gonk_proc.run_cli("users", "list", env=env).stdout.splitlines() == ["bob"]
    # the option wins over the env var
    listed = gonk_proc.run_cli("users", "list", data_dir=tmp_path / "gonk-data", env=env)
    assert listed.stdout.splitlines() == ["alice"]
