"""The ceiling: a minimal Flask app doing only the unavoidable work of an object create.

Parse JSON, decode base64, sha256, write and fsync the bytes, insert one row, commit. Served by
gunicorn with the same worker settings as `gonk-api serve`, it shows how fast any create endpoint
could be on this machine. Data directory: $CEILING_DIR.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import threading
from pathlib import Path

from flask import Flask, jsonify, request

DATA = Path(os.environ.get("CEILING_DIR", "ceiling-data"))
(DATA / "blobs").mkdir(parents=True, exist_ok=True)
app = Flask("ceiling")
_local = threading.local()


def _db() -> sqlite3.Connection:
    if not hasattr(_local, "db"):
        db = sqlite3.connect(DATA / "ceiling.db", timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS objects (hash TEXT, name TEXT, size INTEGER)")
        _local.db = db
    return _local.db


@app.post("/datasets/<dataset>/objects")
def create(dataset: str):
    body = request.get_json()
    data = base64.b64decode(body["object"], validate=True)
    digest = hashlib.sha256(data).hexdigest()
    path = DATA / "blobs" / digest
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    db = _db()
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO objects VALUES (?, ?, ?)", (digest, body["name"], len(data)))
    db.execute("COMMIT")
    return jsonify({"uuid": digest[:36], "version": 0})
