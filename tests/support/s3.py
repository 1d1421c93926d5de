"""S3 for the tests, started on demand: an S3-compatible server (moto's).

Use the session fixture `s3_server` (the endpoint URL) with `new_bucket(endpoint)` for a bucket
of one's own, `s3_env(endpoint)` for the standard AWS_* variables a Gonk process needs to reach
it, and `s3_client(endpoint)` to look inside. The helpers do not change os.environ; the
fixtures `s3_endpoint` and `bucket` set the AWS_* variables for the one test that asks for them
(monkeypatch), as Gonk finds them in production.

Without moto the tests that need it are skipped, or fail if GONK_REQUIRE_SERVICES=1 (as in CI,
where a skipped storage backend must not pass unnoticed).

The fixtures reach every test through `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest
import requests

from tests.support.processes import free_port

REQUIRE_ENV = "GONK_REQUIRE_SERVICES"
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1"}

_lock = threading.Lock()
_endpoint: str | None = None


def missing_service(reason: str) -> NoReturn:
    """Skip the test (or, called while a module is imported, the module) for lack of a
    service; fail it instead if services are required."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 requires every service)")
    pytest.skip(reason, allow_module_level=True)


def start_s3_server() -> str:
    """moto's standalone S3 server on a free port of 127.0.0.1, as a child process (like a real
    service: its own interpreter, its log out of the test output); started once per process, so
    once per pytest session however many modules ask, and stopped at exit. Returns its endpoint
    URL."""
    global _endpoint
    with _lock:
        if _endpoint is None:
            if importlib.util.find_spec("moto") is None:
                missing_service("moto is not installed: pip install 'moto[server]' (or "
                                "'gonk[test]') to run the tests against S3")
            _endpoint = _launch_moto()
        return _endpoint


def _launch_moto(timeout: float = 30.0) -> str:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # noqa: SIM115 (the log lives as long as the server)
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT)
    atexit.register(_stop, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            error = log.read().decode(errors="replace").strip()[-500:]
            missing_service(f"moto's S3 server did not start: {error}")
        try:
            requests.get(f"{endpoint}/moto-api/", timeout=1)
        except requests.ConnectionError:
            time.sleep(0.1)
            continue
        return endpoint
    _stop(process)
    missing_service(f"moto's S3 server did not answer on {endpoint} within {timeout:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a running S3-compatible server (moto)."""
    yield start_s3_server()


@pytest.fixture
def s3_endpoint(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The S3 server, reachable through the standard AWS_* variables (set for this test), as
    Gonk finds it in production."""
    use_s3_endpoint(monkeypatch, s3_server)
    return s3_server


def use_s3_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Set the standard AWS_* variables to reach `endpoint`, for the rest of this test."""
    for name, value in s3_env(endpoint).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A new, empty bucket of this test's own, with the AWS_* variables set (s3_endpoint)."""
    return new_bucket(s3_endpoint)


def s3_env(endpoint: str) -> dict[str, str]:
    """The standard variables with which boto3 (so Gonk) reaches `endpoint`."""
    return {"AWS_ENDPOINT_URL": endpoint, **TEST_CREDENTIALS}


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client on `endpoint`, for tests to look at buckets directly."""
    import boto3

    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


def new_bucket(endpoint: str, label: str = "gonk-test") -> str:
    """Create a bucket no other test uses; return its name."""
    name = f"{label}-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name
