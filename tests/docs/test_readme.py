"""The README's chain-verification snippet is run as written, so it cannot go stale."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import b64

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet() -> dict[str, Any]:
    text = README.read_text()
    section = text.split("## Verifying a dataset's chain by hand", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "the README lost its chain-verification snippet"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(README), "exec"), namespace)
    return namespace


def test_readme_snippet_verifies_a_real_chain_and_detects_tampering(alice: Any) -> None:
    snippet = _snippet()
    assert alice.post("/datasets", {"name": "birds"}).status_code == 200
    for i in range(3):
        r = alice.post("/datasets/birds/objects",
                       {"name": f"{i}.txt", "mimetype": "text/plain", "object": b64(f"b{i}")})
        assert r.status_code == 200
    events = alice.get("/datasets/birds/events?limit=1000").get_json()
    alice.put(f"/datasets/birds/events/{events[1]['uuid']}/accept")
    events = alice.get("/datasets/birds/events?limit=1000").get_json()
    assert snippet["check_chain"](events) == 5

    tampered = [dict(e) for e in events]
    tampered[2]["author"] = "mallory"
    with pytest.raises(ValueError, match=tampered[2]["uuid"]):
        snippet["check_chain"](tampered)


def test_readme_quick_start_commands_match_ci() -> None:
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    test_command = "pip install -e '.[test]' && mypy && python -m pytest"
    assert test_command in text
    assert test_command in ci.splitlines()[-1]
