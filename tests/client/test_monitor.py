"""The log monitor (`gonk-api monitor`, gonk.client.monitor) and the client's verifiable-log
methods, against a live server: a first run pins the key and audits the whole log, later runs
check consistency and the new events, watched events are proved included; and the history
rewritten in the server's database, with the hash chain recomputed (with and without the Merkle
tree rebuilt to match), makes the monitor that holds the earlier checkpoint exit 1 naming the
dataset and both sizes, leaving its state file as it was."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

import gonk
from gonk.client.log_proofs import ProofError, VerifierKey
from gonk.installation import Installation
from tests.support import processes
from tests.support.chain import rewrite_history

pytestmark = pytest.mark.xdist_group("client")


_KEYS: dict[str, str] = {}


def _server_key(site: SimpleNamespace) -> str:
    """The verifier key as the server's operator prints it (what a user pins); asked once."""
    if site.base not in _KEYS:
        done = processes.run_cli("log-key", data_dir=site.data_dir, env=site.env)
        assert done.returncode == 0, done.stderr
        _KEYS[site.base] = done.stdout.strip()
    return _KEYS[site.base]


def _grow(ds: gonk.Dataset, count: int) -> None:
    """`count` more objects, each created and accepted (two events each)."""
    for _ in range(count):
        made = ds.upload(uuid.uuid4().bytes, f"{uuid.uuid4().hex}.bin")
        for event in ds.events.list(pending=True):
            target = event.target()
            if target is not None and target.uuid == made.uuid:
                ds.accept(event)


def _monitor(site: SimpleNamespace, ds: gonk.Dataset, state: Path,
             *extra: str) -> subprocess.CompletedProcess[str]:
    return processes.run_cli("monitor", "--url", site.base, "--key", site.key,
                             "--dataset", ds.name, "--state", str(state), *extra,
                             data_dir=site.data_dir, env=site.env)


def test_the_client_checks_checkpoints_and_proofs(site: SimpleNamespace, client: gonk.Client,
                                                  ds: gonk.Dataset) -> None:
    pinned = VerifierKey.parse(_server_key(site))
    assert client.log_key() == pinned
    _grow(ds, 2)
    log = list(ds.events.list())
    checkpoint = ds.checkpoint(pinned)
    assert checkpoint.size == len(log) == 5
    assert checkpoint.origin.endswith(f"/datasets/{ds.name}")
    for event in log:  # an Event, its raw JSON kept, or only its uuid
        assert ds.verify_event(event, pinned, checkpoint) == checkpoint
        assert ds.verify_event(event.raw, str(pinned)) == checkpoint
        assert ds.verify_event(event.uuid, pinned) == checkpoint
    altered = dict(log[1].raw, timestamp="2020-01-01T00:00:00Z")
    with pytest.raises(ProofError, match="not in the log"):
        ds.verify_event(altered, pinned)
    assert ds.consistency_proof(2, 5)["to"] == 5
    assert ds.inclusion_proof(log[0].uuid, 3)["event"] == log[0].raw
    other = VerifierKey(pinned.name, bytes(32))  # a key that did not sign it
    with pytest.raises(ProofError, match="no signature"):
        ds.checkpoint(other)


def test_the_monitor_follows_a_growing_log(site: SimpleNamespace, ds: gonk.Dataset,
                                           tmp_path: Path) -> None:
    state = tmp_path / "birds.monitor.json"
    key = _server_key(site)
    no_key = _monitor(site, ds, state)
    assert no_key.returncode == 2 and "pin" in no_key.stderr and not state.exists()

    first_event = next(iter(ds.events.list())).uuid
    first = _monitor(site, ds, state, "--log-key", key, "--event", first_event)
    assert first.returncode == 0, first.stderr
    assert "first checkpoint" in first.stdout and "1 new events audited" in first.stdout
    kept = json.loads(state.read_text())
    assert kept["key"] == key and kept["checkpoint"] == ds.checkpoint_note()
    assert list(kept["watched"]) == [first_event]

    _grow(ds, 3)
    again = ds.monitor(state)  # the key is pinned in the state file now
    assert (again.previous_size, again.size, again.audited, again.watched) == (1, 7, 6, 1)
    assert "grew from 1 to 7 events" in again.summary()
    unchanged = ds.monitor(state)
    assert "unchanged at 7 events" in unchanged.summary() and unchanged.audited == 0

    key_file = tmp_path / "key"
    key_file.write_text(VerifierKey(key.split("+")[0], bytes(32)).__str__() + "\n")
    other_key = _monitor(site, ds, state, "--log-key-file", str(key_file))
    assert other_key.returncode == 2 and "not the one pinned" in other_key.stderr
    with pytest.raises(gonk.MonitorError, match="could not be checked"):  # no such event
        ds.monitor(tmp_path / "other.json", key, watch=[str(uuid.uuid4())])


@pytest.mark.parametrize("rebuild_tree", [True, False], ids=["tree-rebuilt", "tree-left"])
def test_a_rewritten_history_makes_the_monitor_fail(site: SimpleNamespace, ds: gonk.Dataset,
                                                    tmp_path: Path, rebuild_tree: bool) -> None:
    """An operator rewrites event #2 in the database and recomputes the chain after it. If they
    also rebuild the Merkle tree, the new root is not an extension of the kept checkpoint's; if
    they leave the tree, the server's proofs still match the old root but no longer the events
    it serves (the watched event, and the next events' chain)."""
    _grow(ds, 2)
    state = tmp_path / "state.json"
    second = list(ds.events.list())[1].uuid
    assert ds.monitor(state, _server_key(site), watch=[second]).size == 5
    before = state.read_text()

    installation = Installation.open(site.data_dir)
    try:
        with installation.db.write() as conn:
            rewrite_history(conn, ds.name, 2, rebuild_tree=rebuild_tree)
    finally:
        installation.close()
    _grow(ds, 1)  # and the log goes on: 5 events checkpointed, 7 now

    caught = _monitor(site, ds, state)
    assert caught.returncode == 1, (caught.stdout, caught.stderr)
    assert f"dataset {ds.name}" in caught.stderr
    assert "Kept checkpoint: 5 events; server's checkpoint: 7 events" in caught.stderr
    assert ("consistency proof fails" if rebuild_tree else "does not chain") in caught.stderr
    assert state.read_text() == before  # the evidence is kept
    # a monitor starting afresh watching the rewritten event: with the tree left, the event
    # the server serves is not the one its signed tree holds
    def fresh() -> gonk.MonitorReport:
        return ds.monitor(tmp_path / "fresh.json", _server_key(site), watch=[second])

    if rebuild_tree:  # the rewrite is consistent from here on: only earlier checkpoints show it
        assert fresh().size == 7
    else:
        with pytest.raises(gonk.LogRewritten, match="root"):
            fresh()


def test_a_server_cannot_pass_off_another_event_or_dataset(
        site: SimpleNamespace, client: gonk.Client, ds: gonk.Dataset, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers a lying server could give, each one correctly signed and proved: the proof of
    another (included) event for the one asked about, and another dataset's checkpoint."""
    key = VerifierKey.parse(_server_key(site))
    _grow(ds, 1)
    first, second, _ = list(ds.events.list())
    other = client.dataset(f"other-{uuid.uuid4().hex[:8]}").create()
    real_proof, real_note = ds.inclusion_proof, ds.checkpoint_note

    monkeypatch.setattr(ds, "inclusion_proof",
                        lambda event, size=None: real_proof(second.uuid, size))
    with pytest.raises(ProofError, match="carries another event"):
        ds.verify_event(first.uuid, key)
    monkeypatch.setattr(ds, "inclusion_proof", real_proof)

    monkeypatch.setattr(ds, "checkpoint_note", other.checkpoint_note)
    with pytest.raises(ProofError, match="is of the log"):
        ds.checkpoint(key)
    with pytest.raises(gonk.LogRewritten, match="another log"):
        ds.monitor(tmp_path / "state.json", key)
    monkeypatch.setattr(ds, "checkpoint_note", real_note)


def test_malformed_answers_and_a_damaged_state_file_are_not_verified(
        site: SimpleNamespace, ds: gonk.Dataset, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = VerifierKey.parse(_server_key(site))
    state = tmp_path / "state.json"
    assert ds.monitor(state, key).size == 1
    _grow(ds, 1)
    real_proof = ds.consistency_proof

    # hashes that are not hashes: the proof does not check out (exit 1); no hashes at all: the
    # answer is not the API's, the log could not be checked (exit 2); the state is kept
    monkeypatch.setattr(ds, "consistency_proof", lambda m, n=None: {
        **real_proof(m, n), "hashes": ["not base64!"]})
    with pytest.raises(gonk.LogRewritten, match="proof does not check out"):
        ds.monitor(state)
    monkeypatch.setattr(ds, "consistency_proof", lambda m, n=None: {"from": m, "to": n})
    with pytest.raises(gonk.MonitorError, match="malformed"):
        ds.monitor(state)
    monkeypatch.setattr(ds, "consistency_proof", real_proof)
    assert ds.monitor(state).size == 3  # nothing of the failed runs was kept

    kept = json.loads(state.read_text())
    kept["tree_edge"]["hashes"].reverse()  # (3 events: two subtrees, swapped)
    state.write_text(json.dumps(kept))
    with pytest.raises(gonk.MonitorError, match="edited or damaged"):
        ds.monitor(state)
    state.write_text("{not json")
    with pytest.raises(gonk.MonitorError, match="cannot be read"):
        ds.monitor(state)
    with pytest.raises(gonk.MonitorError, match="not an event uuid"):
        ds.monitor(tmp_path / "new.json", key, watch=["not-a-uuid"])
