"""A monitor of one dataset's log: checks that it only ever grows, with nothing but what the
server sends and a verifier key the user pinned (`gonk-api monitor`, `gonk.client.monitor`).

Each run (`Monitor.run`):

1. fetches the dataset's checkpoint and checks its signature against the pinned key, and that
   its origin is the one the state file recorded (a checkpoint of another log is refused);
2. when the state file holds an earlier checkpoint: refuses a smaller tree, and checks the
   server's consistency proof from the earlier tree to the new one (RFC 9162 2.1.4.2);
3. audits the events appended since (all of them on the first run): each one's hash-chain link
   from the last event seen, and the new checkpoint's root recomputed from the kept right edge
   of the tree (`CompactRange`) and the new events' leaf hashes, so the signed root is shown to
   commit to exactly the events the server serves;
4. checks the inclusion of every watched event (those given with `--event`, now or on an
   earlier run) in the new tree, and that it is still the same event: the leaf hash it had when
   first watched;
5. only when everything checked out, replaces the state file (written beside it, then renamed)
   with the new checkpoint.

A check that fails raises `LogRewritten` (the CLI's exit 1), naming the dataset and the sizes;
nothing is written to the state file then, so the evidence (the earlier checkpoint) is kept.
Anything that stops the run before a check could be made (no answer, an unknown dataset, an
unreadable state file) raises `MonitorError` (exit 2). None of this uses the server's own tree
code: gonk.client.log_proofs has the algorithms.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import tempfile
import uuid as uuid_module
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .log_proofs import (
    Checkpoint,
    CompactRange,
    ProofError,
    VerifierKey,
    chain_integrity,
    decode_hashes,
    event_leaf_hash,
    verify_consistency,
    verify_inclusion,
)

if TYPE_CHECKING:
    from .resources import Dataset

STATE_FORMAT = "gonk-monitor/1"


def _event_uuid(text: str) -> str:
    """An event uuid given to watch, in the server's form; MonitorError if it is not one."""
    try:
        return str(uuid_module.UUID(text.strip()))
    except ValueError:
        raise MonitorError(f"--event {text!r} is not an event uuid.") from None


class MonitorError(Exception):
    """The monitor could not check the log (bad options or state file, no answer); exit 2."""


class LogRewritten(Exception):
    """The log did not check out: a bad signature, a tree that is not an extension of the one
    checkpointed earlier, an event that changed or a broken chain; exit 1."""


@dataclass
class State:
    """What a monitor keeps between runs (a JSON file): the pinned key, the last checkpoint
    that checked out, the tree's right edge and the last event's uuid and integrity at that
    size, and the watched events' leaf index and hash."""

    url: str
    dataset: str
    key: str
    checkpoint: str = ""
    edge: CompactRange = field(default_factory=CompactRange)
    last_event: str | None = None
    last_integrity: str = ""
    watched: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> State | None:
        """The state kept in `path`, or None if there is no such file."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise MonitorError(f"The state file {path} cannot be read: {exc}") from None
        try:
            if raw.get("format") != STATE_FORMAT:
                raise ValueError(f"its format is not {STATE_FORMAT}")
            watched = {str(uuid): dict(kept) for uuid, kept in dict(raw["watched"]).items()}
            for kept in watched.values():
                if kept and not (isinstance(kept.get("index"), int)
                                 and isinstance(kept.get("leaf"), str)):
                    raise ValueError("a watched event's index and leaf are not a number and "
                                     "a hash")
            return cls(raw["url"], raw["dataset"], raw["key"], raw["checkpoint"],
                       CompactRange.from_json(raw["tree_edge"]), raw["last_event"],
                       raw["last_integrity"], watched)
        except (KeyError, TypeError, ValueError, AttributeError, ProofError) as exc:
            raise MonitorError(f"The state file {path} is not a monitor's state: {exc}") from None

    def save(self, path: Path) -> None:
        """Write the state durably: to a file beside `path`, flushed, renamed over it, and the
        folder flushed."""
        raw = {"format": STATE_FORMAT, "url": self.url, "dataset": self.dataset,
               "key": self.key, "checkpoint": self.checkpoint,
               "tree_edge": self.edge.to_json(), "last_event": self.last_event,
               "last_integrity": self.last_integrity, "watched": self.watched}
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(raw, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself, through a power cut
        finally:
            os.close(directory)


@dataclass(frozen=True)
class Report:
    """What a run checked: the sizes before (None on a first run) and now, how many new events
    were audited, and the watched events proved included."""

    dataset: str
    origin: str
    previous_size: int | None
    size: int
    audited: int
    watched: int

    def summary(self) -> str:
        grown = ("first checkpoint" if self.previous_size is None else
                 f"grew from {self.previous_size} to {self.size} events"
                 if self.size > self.previous_size else f"unchanged at {self.size} events")
        return (f"OK: dataset {self.dataset} ({self.origin}): {grown}; signature valid, "
                f"{'consistent with the kept checkpoint, ' if self.previous_size else ''}"
                f"{self.audited} new events audited (chain and root), "
                f"{self.watched} watched events included.")


class Monitor:
    """Checks one dataset of one server against a state file; see the module's text."""

    def __init__(self, dataset: Dataset, state_path: str | os.PathLike[str],
                 key: VerifierKey | None = None) -> None:
        self.dataset = dataset
        self.state_path = Path(state_path)
        state = State.load(self.state_path)
        url = dataset.client.url
        if state is None:
            if key is None:
                raise MonitorError("The first run needs the verifier key to pin (--log-key or "
                                   "--log-key-file; `gonk-api log-key` prints it on the "
                                   "server).")
            state = State(url, dataset.name, str(key))
        else:
            if state.dataset != dataset.name or state.url != url:
                raise MonitorError(f"The state file {self.state_path} follows dataset "
                                   f"{state.dataset} at {state.url}, not {dataset.name} at {url}.")
            if key is not None and str(key) != state.key:
                raise MonitorError(f"The key given is not the one pinned in {self.state_path} "
                                   f"({state.key}).")
        self._kept = self.state = state
        try:
            self.key = VerifierKey.parse(state.key)
        except ProofError as exc:
            raise MonitorError(f"The pinned key is not a verifier key: {exc}") from None

    def _rewritten(self, why: str) -> LogRewritten:
        old, new = self._sizes
        kept = f"{old} events" if old is not None else "none yet"
        now = f"{new} events" if new is not None else "not verified"
        return LogRewritten(f"LOG NOT VERIFIED: dataset {self.dataset.name}: {why}. Kept "
                            f"checkpoint: {kept}; server's checkpoint: {now}.")

    def run(self, watch: Iterable[str] = ()) -> Report:
        """One check (see the module's text); the state file (and this monitor's state) is
        replaced only on success."""
        from .errors import GonkError

        added = [_event_uuid(text) for text in watch]
        state = self.state = copy.deepcopy(self._kept)
        try:
            old = self.key.open_checkpoint(state.checkpoint) if state.checkpoint else None
            if old is not None and (state.edge.size != old.size
                                    or state.edge.root() != old.root):
                raise ProofError("the tree edge kept beside it is not that checkpoint's")
        except ProofError as exc:
            raise MonitorError(f"The checkpoint kept in {self.state_path} does not check out "
                               f"with its pinned key (edited or damaged?): {exc}") from None
        old_size = old.size if old is not None else None
        self._sizes: tuple[int | None, int | None] = (old_size, None)
        try:
            note = self.dataset.checkpoint_note()
            try:
                new = self.key.open_checkpoint(note)
            except ProofError as exc:
                raise self._rewritten(f"the checkpoint does not check out: {exc}") from None
            self._sizes = (old_size, new.size)
            wanted = f"{self.key.name}/datasets/{self.dataset.name}"
            if new.origin != wanted:
                raise self._rewritten(f"the checkpoint is of another log ({new.origin!r}, not "
                                      f"{wanted!r})")
            if new.size < 1:
                raise self._rewritten("the checkpoint counts no events (a dataset's log "
                                      "starts with its first owner)")
            if old is not None:
                self._check_consistency(old, new)
            audited = self._audit(new)
            for uuid in added:
                state.watched.setdefault(uuid, {})
            for uuid, kept in state.watched.items():
                self._check_inclusion(uuid, kept, new)
        except GonkError as exc:
            raise MonitorError(f"The server could not be checked: {exc}") from None
        except ProofError as exc:  # a proof's hashes that are not hashes, say
            raise self._rewritten(f"the server's proof does not check out: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # (rfc8785's too)
            raise MonitorError(f"The server's answer is malformed, so the log could not be "
                               f"checked ({type(exc).__name__}: {exc}).") from None
        state.checkpoint = new.text
        try:
            state.save(self.state_path)
        except OSError as exc:
            raise MonitorError(f"The log checked out, but the state file {self.state_path} "
                               f"could not be written: {exc}") from None
        self._kept = state
        return Report(self.dataset.name, new.origin, old_size, new.size, audited,
                      len(state.watched))

    def _check_consistency(self, old: Checkpoint, new: Checkpoint) -> None:
        if new.origin != old.origin:
            raise self._rewritten(f"the checkpoint is of another log ({new.origin!r}, the kept "
                                  f"one of {old.origin!r})")
        if new.size < old.size:
            raise self._rewritten("the log shrank")
        proof = [] if new.size == old.size else decode_hashes(
            self.dataset.consistency_proof(old.size, new.size)["hashes"])
        if not verify_consistency(old.size, new.size, old.root, new.root, proof):
            raise self._rewritten("the log was rewritten: the current tree is not an extension "
                                  "of the one checkpointed earlier (the consistency proof "
                                  "fails)")

    def _audit(self, new: Checkpoint) -> int:
        """Fold the events after the kept edge into it; the root must be the signed one."""
        state, edge = self.state, self.state.edge
        old_size, audited = edge.size, 0
        if new.size == old_size:
            return 0
        integrity, last = state.last_integrity, state.last_event
        for event in self.dataset.events.list(after=last):
            if edge.size == new.size:
                break
            position = edge.size + 1
            expected = chain_integrity(integrity, event.raw)
            if event.integrity != expected:
                raise self._rewritten(
                    f"event #{position} ({event.uuid}) does not chain from the event before it "
                    f"(its integrity is {event.integrity}; the events seen before give "
                    f"{expected})")
            edge.append(event_leaf_hash(event.raw))
            integrity, last, audited = event.integrity, event.uuid, audited + 1
        if edge.size != new.size:
            raise self._rewritten(f"the server listed {edge.size} events where its checkpoint "
                                  f"counts {new.size}")
        if edge.root() != new.root:
            raise self._rewritten("the checkpoint's root is not the root of the events the "
                                  "server lists")
        state.last_integrity, state.last_event = integrity, last
        return audited

    def _check_inclusion(self, uuid: str, kept: dict[str, Any], new: Checkpoint) -> None:
        from .errors import NotFound

        try:
            proof = self.dataset.inclusion_proof(uuid, new.size)
        except NotFound:
            if not kept:  # given now, never seen: a mistyped uuid, not evidence
                raise
            raise self._rewritten(f"event {uuid}, watched since it was event "
                                  f"#{kept['index'] + 1}, is gone from the log") from None
        event = proof.get("event") or {}
        leaf = event_leaf_hash(event)
        if str(event.get("uuid", "")).lower() != uuid:
            raise self._rewritten(f"the inclusion proof of event {uuid} carries another event")
        if not verify_inclusion(leaf, int(proof["index"]), new.size,
                                decode_hashes(proof["hashes"]), new.root):
            raise self._rewritten(f"event {uuid} (#{int(proof['index']) + 1}) as the server "
                                  "serves it is not in the signed tree")
        encoded = base64.b64encode(leaf).decode()
        if kept and (kept.get("index") != int(proof["index"]) or kept.get("leaf") != encoded):
            raise self._rewritten(f"event {uuid} changed since it was first watched (leaf "
                                  f"#{kept.get('index')} {kept.get('leaf')}, now "
                                  f"#{proof['index']} {encoded})")
        kept.update(index=int(proof["index"]), leaf=encoded)
