"""Fixtures of the API suite, on top of tests/conftest.py's (`app`, `alice`, `bob`...)."""

from __future__ import annotations

from typing import Any

import pytest

from gonk.users import add_user
from tests.support.api import DS
from tests.support.http import Client


@pytest.fixture
def carol(app: Any, installation: Any) -> Client:
    """A third user."""
    return Client(app.test_client(), add_user(installation, "carol"), "carol")


@pytest.fixture
def ds(alice: Client) -> str:
    """A dataset "ds" created (and so owned) by alice."""
    resp = alice.post("/datasets", {"name": DS})
    assert resp.status_code == 200, resp.json
    return DS
