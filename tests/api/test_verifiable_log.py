"""The verifiable log over the API: GET /log-key, a dataset's signed checkpoint, and inclusion
and consistency proofs, each checked by the independent verifier (gonk.client.log_proofs)
against roots this test computes itself from the events list; bad sizes; a private dataset;
a release's checkpoint; a signature by another key; and a rewritten history that `verify`
names."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gonk.client.log_proofs import (
    ProofError,
    VerifierKey,
    decode_hashes,
    event_leaf_hash,
    key_id,
    verify_consistency,
    verify_inclusion,
)
from gonk.verify import verify_dataset
from tests.support.api import DS, accept, assert_error, create_object, events
from tests.support.chain import merkle_root, rewrite_history
from tests.support.http import Client


def _key(client: Client) -> VerifierKey:
    resp = client.flask.get("/log-key")  # no key needed
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    return VerifierKey.parse(resp.get_data(as_text=True))


def _checkpoint_text(client: Client) -> str:
    resp = client.get(f"/datasets/{DS}/checkpoint")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    return resp.get_data(as_text=True)


def _grow(client: Client, count: int) -> None:
    """`count` more objects, each created and accepted (two events each)."""
    start = len(events(client))
    for i in range(start, start + count):
        create_object(client, f"object {i}", f"o{i}.txt")
        accept(client, events(client)[-1]["uuid"])


def test_the_checkpoint_is_signed_and_holds_the_root_of_the_events(alice: Client,
                                                                   ds: str) -> None:
    _grow(alice, 3)
    log = events(alice)
    key = _key(alice)
    text = _checkpoint_text(alice)
    checkpoint = key.open_checkpoint(text)
    assert checkpoint.origin == f"{key.name}/datasets/{DS}"
    assert checkpoint.size == len(log)
    assert checkpoint.root == merkle_root([event_leaf_hash(e) for e in log])
    body, _, signature = text.partition("\n\n")
    assert signature.startswith(f"\u2014 {key.name} ") and signature.endswith("\n")
    assert body.split("\n")[1] == str(len(log))


def test_every_inclusion_and_consistency_proof_verifies(alice: Client, ds: str) -> None:
    _grow(alice, 4)  # 1 + 4 * 2 = 9 events
    log = events(alice)
    leaves = [event_leaf_hash(e) for e in log]
    roots = [merkle_root(leaves[:n]) for n in range(1, len(log) + 1)]
    for size in range(1, len(log) + 1):
        for index in range(size):
            resp = alice.get(f"/datasets/{DS}/proofs/inclusion?event={log[index]['uuid']}"
                             f"&size={size}")
            assert resp.status_code == 200, resp.json
            assert (resp.json["index"], resp.json["size"]) == (index, size)
            assert resp.json["event"] == log[index]  # the event as the events list serves it
            assert verify_inclusion(leaves[index], index, size,
                                    decode_hashes(resp.json["hashes"]), roots[size - 1])
        for old in range(1, size + 1):
            resp = alice.get(f"/datasets/{DS}/proofs/consistency?from={old}&to={size}")
            assert resp.status_code == 200, resp.json
            assert (resp.json["from"], resp.json["to"]) == (old, size)
            assert verify_consistency(old, size, roots[old - 1], roots[size - 1],
                                      decode_hashes(resp.json["hashes"]))
    # the defaults: the whole log
    latest = alice.get(f"/datasets/{DS}/proofs/inclusion?event={log[2]['uuid'].upper()}").json
    assert (latest["index"], latest["size"]) == (2, len(log))
    assert alice.get(f"/datasets/{DS}/proofs/consistency?from=3").json["to"] == len(log)


def test_bad_sizes_are_400_and_unknown_events_404(alice: Client, ds: str) -> None:
    _grow(alice, 1)
    log = events(alice)  # 3 events
    base = f"/datasets/{DS}/proofs"
    for query in ("size=0", "size=4", "size=x", "size=-1"):
        assert_error(alice.get(f"{base}/inclusion?event={log[0]['uuid']}&{query}"), 400,
                     "size")
    assert_error(alice.get(f"{base}/inclusion?event={log[2]['uuid']}&size=2"), 400,
                 "not in the tree")
    assert_error(alice.get(f"{base}/inclusion"), 400, "event")
    assert_error(alice.get(f"{base}/inclusion?event=00000000-0000-4000-8000-000000000000"), 404)
    for query in ("from=0", "from=4", "from=1&to=4", "from=3&to=2", "to=2", "from=1&to=0"):
        assert_error(alice.get(f"{base}/consistency?{query}"), 400)


def test_a_private_dataset_s_log_is_404_for_others(alice: Client, bob: Client,
                                                   ds: str) -> None:
    assert alice.patch(f"/datasets/{DS}", {"visibility": "private"}).status_code == 200
    first = events(alice)[0]["uuid"]
    for path in ("checkpoint", f"proofs/inclusion?event={first}", "proofs/consistency?from=1"):
        assert_error(bob.get(f"/datasets/{DS}/{path}"), 404)
        assert alice.get(f"/datasets/{DS}/{path}").status_code == 200


def test_a_release_records_the_checkpoint_at_its_point(alice: Client, ds: str) -> None:
    _grow(alice, 2)
    made = alice.post(f"/datasets/{DS}/releases", {"name": "v1"}).json
    _grow(alice, 1)
    key = _key(alice)
    at_release = key.open_checkpoint(made["checkpoint"])
    assert at_release.size == made["at"]["index"] + 1 == 5
    assert alice.get(f"/datasets/{DS}/releases/v1").json["checkpoint"] == made["checkpoint"]
    now = key.open_checkpoint(_checkpoint_text(alice))
    proof = alice.get(f"/datasets/{DS}/proofs/consistency?from=5").json
    assert verify_consistency(5, now.size, at_release.root, now.root,
                              decode_hashes(proof["hashes"]))


def test_a_checkpoint_signed_by_another_key_is_refused(alice: Client, ds: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    real = _key(alice)
    text = _checkpoint_text(alice)
    other = Ed25519PrivateKey.generate()
    impostor = VerifierKey(real.name, other.public_key().public_bytes(Encoding.Raw,
                                                                      PublicFormat.Raw))
    with pytest.raises(ProofError, match="no signature by the key"):
        impostor.open_checkpoint(text)  # another key id: its signature is not there
    body = text.partition("\n\n")[0] + "\n"
    signature = base64.b64encode(key_id(real.name, real.public_key) + other.sign(body.encode()))
    forged = f"{body}\n\u2014 {real.name} {signature.decode()}\n"
    with pytest.raises(ProofError, match="not valid"):
        real.open_checkpoint(forged)  # the real key id, another key's signature
    altered = text.replace(f"\n{real.open_checkpoint(text).size}\n", "\n999\n", 1)
    with pytest.raises(ProofError, match="not valid"):
        real.open_checkpoint(altered)


def test_a_rewritten_history_fails_verify_and_consistency(alice: Client, ds: str,
                                                          installation: Any) -> None:
    _grow(alice, 3)
    key = _key(alice)
    before = key.open_checkpoint(_checkpoint_text(alice))
    # rewrite event 2 directly in the database and recompute the whole chain after it
    with installation.db.write() as conn:
        rewrite_history(conn, DS, 2, rebuild_tree=False)
    verdict = verify_dataset(installation, DS)
    assert not verdict.ok and "Merkle tree" in verdict.message and "event #2" in verdict.message
    # a monitor holding the earlier checkpoint: the server's tree is unchanged, so its proofs
    # still verify against its own (old) root, but not against the rewritten events
    rewritten = [event_leaf_hash(e) for e in events(alice)]
    assert merkle_root(rewritten[:before.size]) != before.root
