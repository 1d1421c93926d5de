"""Where users type the storage options: `--data-dir`, `--database-url` and `--blob-url` work
before the subcommand (`gonk-api --data-dir X init`) and after it (`gonk-api init --data-dir X`),
the one after winning when both are given, with the environment variables below both. And
`run` and `serve` print the address they listen on once they listen (--port 0: the port chosen).

Every command runs as a real process. These tests are about the data directory and the options
themselves, so they run on SQLite and local files only (the storage URLs are given as options)."""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from gonk import service
from gonk.installation import Installation
from gonk.users import is_admin, user_for_key
from tests.support.processes import GONK_API

SERVING = re.compile(r"Gonk is serving (?P<where>.+) at (?P<base>http://127\.0\.0\.1:"
                     r"(?P<port>\d+))/ \(health check: (?P=base)/health\)")


@pytest.fixture
def site(tmp_path: Path, gonk_proc: Any) -> SimpleNamespace:
    """An installation in `data` made with `init --data-dir` after the subcommand, in an
    environment whose GONK_DATA_DIR points at an empty folder, and with a wrong --data-dir
    before the subcommand in every run below: a command works only if the option after the
    subcommand is the one used."""
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    env = gonk_proc.clean_env(GONK_DATA_DIR=str(elsewhere))
    init = gonk_proc.run_cli("--data-dir", elsewhere, "init", "--username", "alice",
                             "--data-dir", data, env=env)
    assert init.returncode == 0, init.stderr
    assert f"Initialised Gonk in {data}" in init.stdout
    assert (data / "gonk.db").is_file() and not elsewhere.exists()
    return SimpleNamespace(data=data, elsewhere=elsewhere, env=env,
                           key=gonk_proc.last_line(init.stdout))


def test_storage_options_after_every_subcommand(site: SimpleNamespace, gonk_proc: Any,
                                                tmp_path: Path) -> None:
    def after(*argv: str | Path) -> subprocess.CompletedProcess:
        done = gonk_proc.run_cli("--data-dir", site.elsewhere, *argv, "--data-dir", site.data,
                                 env=site.env)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        return done

    bob = gonk_proc.last_line(after("users", "add", "bob").stdout)
    rekeyed = gonk_proc.last_line(after("users", "rekey", "bob").stdout)
    assert rekeyed != bob
    assert after("users", "list").stdout.split() == ["alice", "bob"]

    installation = Installation.open(site.data)
    service.create_dataset(installation, "alice", "pics")
    installation.close()
    photo = tmp_path / "bird.txt"
    photo.write_text("a bird\n")
    assert "Imported 1 files" in after("import", "pics", photo, "--user", "alice").stdout
    assert "pics: OK" in after("verify").stdout
    assert after("gc", "--min-age", "0").stdout.startswith("Removed 0 unreferenced blobs")
    assert "already at revision" in after("migrate").stdout
    target = tmp_path / "copy"
    copied = after("copy", "--to-database", f"sqlite:///{target}/gonk.db",
                   "--to-blobs", f"file://{target}/blobs")
    assert "Copied 2 users, 1 datasets" in copied.stdout
    assert not site.elsewhere.exists()  # nothing was ever made where the other options said


def test_users_group_takes_the_options_too(site: SimpleNamespace, gonk_proc: Any) -> None:
    listed = gonk_proc.run_cli("users", "--data-dir", site.data, "list", env=site.env)
    assert listed.returncode == 0 and listed.stdout.split() == ["alice"]


def test_the_option_after_the_subcommand_wins(site: SimpleNamespace, gonk_proc: Any) -> None:
    before_only = gonk_proc.run_cli("--data-dir", site.elsewhere, "users", "list", env=site.env)
    assert before_only.returncode == 1 and "not initialised" in before_only.stderr
    both = gonk_proc.run_cli("--data-dir", site.elsewhere, "users", "list", "--data-dir",
                             site.data, env=site.env)
    assert both.returncode == 0 and both.stdout.split() == ["alice"]
    reversed_order = gonk_proc.run_cli("--data-dir", site.data, "users", "list", "--data-dir",
                                       site.elsewhere, env=site.env)
    assert reversed_order.returncode == 1 and "not initialised" in reversed_order.stderr
    assert "Traceback" not in reversed_order.stderr


def test_environment_and_options_before_still_work(site: SimpleNamespace,
                                                   gonk_proc: Any) -> None:
    by_env = gonk_proc.run_cli("users", "list", env={**site.env, "GONK_DATA_DIR": str(site.data)})
    assert by_env.returncode == 0 and by_env.stdout.split() == ["alice"]
    before = gonk_proc.run_cli("--data-dir", site.data, "users", "list", env=site.env)
    assert before.returncode == 0 and before.stdout.split() == ["alice"]


def test_url_options_after_the_subcommand_override_the_environment(
        tmp_path: Path, gonk_proc: Any) -> None:
    database, blobs = tmp_path / "meta" / "gonk.db", tmp_path / "bytes"
    env = gonk_proc.clean_env(GONK_DATABASE_URL="mysql://wrong/one",
                              GONK_BLOB_URL="ftp://wrong/one")
    urls = ("--database-url", f"sqlite:///{database}", "--blob-url", f"file://{blobs}")
    init = gonk_proc.run_cli("--database-url", "mysql://before/loses", "init", "--username",
                             "alice", *urls, data_dir=tmp_path / "data", env=env)
    assert init.returncode == 0, init.stderr
    assert database.is_file() and blobs.is_dir()
    assert not (tmp_path / "data" / "gonk.db").exists()
    listed = gonk_proc.run_cli("users", "list", *urls, env=env)
    assert listed.returncode == 0 and listed.stdout.split() == ["alice"]
    bad = gonk_proc.run_cli("users", "list", "--database-url", "not a url", env=env)
    assert bad.returncode == 1 and "Not a database URL" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("command", [
    ("init",), ("users", "add"), ("users", "rekey"), ("users", "list"), ("run",), ("serve",),
    ("import",), ("gc",), ("migrate",), ("copy",), ("verify",)])
def test_every_storage_command_lists_the_options_in_its_help(gonk_proc: Any,
                                                             command: tuple[str, ...]) -> None:
    helped = gonk_proc.run_cli(*command, "--help")
    assert helped.returncode == 0, helped.stderr
    for option in ("--data-dir", "--database-url", "--blob-url"):
        assert option in helped.stdout


# --- run and serve say where they listen -------------------------------------------------------


@contextlib.contextmanager
def listening(argv: Sequence[str | Path], env: dict[str, str],
              log: Path) -> Iterator[re.Match[str]]:
    """`gonk-api ARGV` as a process of its own; yields the match of the line it prints once it
    listens (within 30 s), and stops the process and its children at the end."""
    with open(log, "wb") as errors:
        proc = subprocess.Popen([*GONK_API, *map(str, argv)], stdout=subprocess.PIPE,
                                stderr=errors, env=env, start_new_session=True)
        assert proc.stdout is not None
        try:
            deadline, seen = time.monotonic() + 30, b""
            # a selector (epoll), not select(): a long test session's descriptors pass 1024
            watch = selectors.DefaultSelector()
            watch.register(proc.stdout, selectors.EVENT_READ)
            while True:
                ready = watch.select(0.2)
                if ready:
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    seen += chunk
                    found = SERVING.search(seen.decode(errors="replace"))
                    if found:
                        break
                    if not chunk:
                        proc.wait(timeout=10)
                assert proc.poll() is None, f"exited {proc.returncode}: {log.read_text()}"
                assert time.monotonic() < deadline, f"no address printed: {seen!r}"
            yield found
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            proc.stdout.close()


@pytest.mark.parametrize("command", [("run",), ("serve", "--workers", "1", "--access-log", "")])
def test_run_and_serve_print_the_real_address_once_listening(
        site: SimpleNamespace, command: tuple[str, ...], tmp_path: Path) -> None:
    argv = [*command, "--host", "127.0.0.1", "--port", "0", "--data-dir", site.data]
    with listening(argv, site.env, tmp_path / "server.log") as line:
        assert line["where"] == str(site.data)
        assert int(line["port"]) > 0  # the port the system chose, not the 0 asked for
        answer = requests.get(f"{line['base']}/datasets", headers={"x-api-key": site.key},
                              timeout=10)
        assert answer.status_code == 200 and answer.json() == []
        # the printed address is also the web app's (README, quick start)
        page = requests.get(f"{line['base']}/", timeout=10)
        assert page.status_code == 200 and 'src="app/js/app.js"' in page.text
        assert requests.get(f"{line['base']}/app/js/pages/review.js",
                            timeout=10).status_code == 200


def test_ports_out_of_range_are_refused(gonk_proc: Any) -> None:
    for command in ("run", "serve"):
        refused = gonk_proc.run_cli(command, "--port", "70000")
        assert refused.returncode == 2 and "0<=x<=65535" in refused.stderr


def test_users_admins_and_deletion_from_the_command_line(site: SimpleNamespace,
                                                         gonk_proc: Any) -> None:
    """`init` makes an instance admin, `users add --admin` another; `users delete` ends a key at
    once, keeps the name taken, and never deletes the last admin."""
    def cli(*argv: str | Path) -> subprocess.CompletedProcess:
        return gonk_proc.run_cli(*argv, "--data-dir", site.data, env=site.env)

    installation = Installation.open(site.data)
    try:
        assert is_admin(installation, "alice")
        refused = cli("users", "delete", "alice")
        assert refused.returncode == 1 and "last instance admin" in refused.stderr
        added = cli("users", "add", "erin", "--admin")
        assert added.returncode == 0 and "an instance admin" in added.stdout
        erin = gonk_proc.last_line(added.stdout)
        assert is_admin(installation, "erin")
        assert user_for_key(installation, erin) == "erin"
        deleted = cli("users", "delete", "erin")
        assert deleted.returncode == 0 and "Deleted user erin" in deleted.stdout
        assert user_for_key(installation, erin) is None
        assert cli("users", "list").stdout.split() == ["alice"]
        again = cli("users", "add", "erin")
        assert again.returncode == 1 and "already exists" in again.stderr
        rekey = cli("users", "rekey", "erin")
        assert rekey.returncode == 1 and "was deleted" in rekey.stderr
        missing = cli("users", "delete", "nobody")
        assert missing.returncode == 1 and "No user named nobody" in missing.stderr
    finally:
        installation.close()
