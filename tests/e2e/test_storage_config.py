"""Choosing storage by URL (GONK_DATABASE_URL, GONK_BLOB_URL, or --database-url / --blob-url),
and the one-line errors for every way it can be wrong: never a traceback, always exit 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import postgres


def _one_line_error(result: Any) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize("command", [("init", "--username", "alice"), ("users", "list"),
                                     ("verify",), ("gc",), ("migrate",), ("serve",)])
@pytest.mark.parametrize(("variable", "value", "says"), [
    ("GONK_DATABASE_URL", "not a url", "Not a database URL"),
    ("GONK_DATABASE_URL", "mysql://root@127.0.0.1/test", "Unsupported database 'mysql'"),
    ("GONK_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none", "Cannot use the database"),
    ("GONK_DATABASE_URL", "sqlite://", "needs a file"),
    ("GONK_BLOB_URL", "ftp://example.com/blobs", "ftp://example.com/blobs"),
])
def test_bad_storage_urls_give_one_line_and_exit_1(tmp_path: Path, gonk_proc: Any,
                                                   command: tuple[str, ...], variable: str,
                                                   value: str, says: str) -> None:
    env = gonk_proc.clean_env(**{variable: value})
    result = gonk_proc.run_cli(*command, data_dir=tmp_path / "data", env=env)
    assert says in _one_line_error(result)
    assert not (tmp_path / "data" / "gonk.db").exists()


def test_password_is_never_printed(tmp_path: Path, gonk_proc: Any) -> None:
    env = gonk_proc.clean_env(GONK_DATABASE_URL="postgresql://gonk:s3cret@127.0.0.1:1/gonk")
    line = _one_line_error(gonk_proc.run_cli("users", "list", data_dir=tmp_path, env=env))
    assert "s3cret" not in line and "***" in line


def test_command_line_option_overrides_the_environment(tmp_path: Path, gonk_proc: Any) -> None:
    env = gonk_proc.clean_env(GONK_DATABASE_URL="mysql://wrong/one")
    chosen = tmp_path / "chosen.db"
    init = gonk_proc.run_cli("--database-url", f"sqlite:///{chosen}", "init", "--username",
                             "alice", data_dir=tmp_path / "data", env=env)
    assert init.returncode == 0, init.stderr
    assert chosen.is_file()
    listed = gonk_proc.run_cli("--database-url", f"sqlite:///{chosen}", "users", "list",
                               data_dir=tmp_path / "data", env=env)
    assert listed.stdout.split() == ["alice"]


def test_postgresql_installation_from_init_to_verify(tmp_path: Path, gonk_proc: Any) -> None:
    url = postgres.create_database()
    try:
        env = gonk_proc.clean_env(GONK_DATABASE_URL=url)
        init = gonk_proc.run_cli("init", "--username", "alice", data_dir=tmp_path / "d", env=env)
        assert init.returncode == 0, init.stderr
        assert "postgresql" in init.stdout
        assert not (tmp_path / "d" / "gonk.db").exists()  # the metadata went to PostgreSQL
        again = gonk_proc.run_cli("init", "--username", "bob", data_dir=tmp_path / "d", env=env)
        assert "already initialised" in _one_line_error(again)
        added = gonk_proc.run_cli("users", "add", "bob", data_dir=tmp_path / "d", env=env)
        assert added.returncode == 0, added.stderr
        listed = gonk_proc.run_cli("users", "list", data_dir=tmp_path / "d", env=env)
        assert listed.stdout.split() == ["alice", "bob"]
        migrated = gonk_proc.run_cli("migrate", data_dir=tmp_path / "d", env=env)
        assert migrated.returncode == 0, migrated.stderr
        assert "already at revision" in migrated.stdout
        verified = gonk_proc.run_cli("verify", data_dir=tmp_path / "d", env=env)
        assert verified.returncode == 0 and "No datasets" in verified.stdout
    finally:
        postgres.drop_database(url)
