"""The README's chain-verification and proof-verification snippets are run as written, so
they cannot go stale."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import b64

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet(heading: str = "## Verifying a dataset's chain by hand") -> dict[str, Any]:
    text = README.read_text()
    section = text.split(heading, 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, f"the README lost its snippet under {heading!r}"
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


def test_readme_snippet_verifies_inclusion_proofs_by_hand(alice: Any) -> None:
    """The section on the verifiable log: its hand check accepts every event of a real log
    against its checkpoint, and refuses an altered event, a wrong index, another root and a
    proof for another tree size."""
    snippet = _snippet("## The verifiable log: checkpoints and proofs")
    check = snippet["event_in_checkpoint"]
    assert alice.post("/datasets", {"name": "birds"}).status_code == 200
    for i in range(4):
        assert alice.post("/datasets/birds/objects", {
            "name": f"{i}.txt", "mimetype": "text/plain", "object": b64(f"b{i}")}
        ).status_code == 200
    events = alice.get("/datasets/birds/events?limit=1000").get_json()
    final = alice.get("/datasets/birds/checkpoint").get_data(as_text=True)
    for index, event in enumerate(events):
        proof = alice.get(f"/datasets/birds/proofs/inclusion?event={event['uuid']}").get_json()
        assert check(event, proof, final)
        assert not check(dict(event, author="mallory"), proof, final)
        assert not check(event, dict(proof, index=(index + 1) % len(events)), final)
    other_root = final.replace(final.split("\n")[2], "A" * 43 + "=")
    proof = alice.get(f"/datasets/birds/proofs/inclusion?event={events[0]['uuid']}").get_json()
    assert not check(events[0], proof, other_root)
    smaller = alice.get(f"/datasets/birds/proofs/inclusion?event={events[0]['uuid']}&size=2")
    assert not check(events[0], smaller.get_json(), final)  # a proof for another tree size


def test_readme_quick_start_commands_match_ci() -> None:
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    test_command = "pip install -e '.[test]' && mypy && python -m pytest"
    assert test_command in text
    assert test_command in ci.splitlines()[-1]


def _walkthrough(heading: str) -> str:
    section = README.read_text().split(heading, 1)[1]
    code = re.search(r"```sh\n(.*?)```", section, re.S)
    assert code, f"the README lost the walkthrough under {heading!r}"
    return code.group(1)


def test_the_deployment_walkthrough_runs_pasted_as_one_block(tmp_path: Path,
                                                             s3_server: str) -> None:
    """The "Deploying several servers" block, run by bash as one paste. Only what would clash
    with other tests changes: its ports become free ones, its database a new one, and the
    `pip install` lines are skipped (the test environment has those packages)."""
    import os
    import signal
    import subprocess
    import sys

    from tests.support import postgres
    from tests.support.processes import free_port

    block = _walkthrough("## Deploying several servers")
    database_url = postgres.create_database()
    try:
        script = block.replace("createdb -h 127.0.0.1 -U postgres gonk", ": createdb")
        script = script.replace("postgresql://postgres@127.0.0.1:5432/gonk", database_url)
        script = re.sub(r"^pip install", ": pip install", script, flags=re.M)
        for port in ("9000", "8001", "8002"):
            assert port in script
            script = script.replace(port, str(free_port()))
        env = {**os.environ, "TMPDIR": str(tmp_path),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        for name in list(env):
            if name.startswith(("GONK_", "AWS_")):
                del env[name]
        log = tmp_path / "output.txt"
        with open(log, "w") as out:  # a file, not a pipe: the servers it starts keep theirs open
            shell = subprocess.Popen(["bash", "-c", script], env=env, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
            try:
                shell.wait(timeout=180)
            finally:
                os.killpg(shell.pid, signal.SIGTERM)  # the servers and moto it left running
        output = log.read_text()
        assert '{"dataset":"birds"}' in output, output
        assert '"name":"sighting.txt"' in output, output
        assert re.search(r"^birds: OK", output, re.M), output
        assert '"versions":1' in output, output
    finally:
        postgres.drop_database(database_url)
