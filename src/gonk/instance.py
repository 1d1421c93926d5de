"""One Gonk installation: where its data lives and the stores opened on it."""

from __future__ import annotations

import os
from pathlib import Path

from .storage.blobs import LocalBlobStore
from .storage.database import Database, sqlite_url

DATA_DIR_ENV = "GONK_DATA_DIR"
DEFAULT_DATA_DIR = "gonk-data"


class NotInitialised(Exception):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(
            f"Gonk is not initialised in {data_dir}: run `gonk-api init --username NAME` first "
            f"(or point --data-dir / {DATA_DIR_ENV} at an initialised data directory).")


def resolve_data_dir(option: str | os.PathLike[str] | None) -> Path:
    """--data-dir, else $GONK_DATA_DIR, else ./gonk-data in the current working directory."""
    chosen = option or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().resolve()


class Instance:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / "gonk.db"
        self.db = Database(sqlite_url(self.data_dir))
        self.blobs = LocalBlobStore(self.data_dir / "blobs")
        self.known_datasets: set[str] = set()  # datasets are never deleted: safe to remember

    @classmethod
    def open(cls, data_dir: Path) -> Instance:
        """Open an initialised installation, or raise NotInitialised (creating nothing)."""
        if not (data_dir / "gonk.db").is_file():
            raise NotInitialised(data_dir)
        instance = cls(data_dir)
        if not instance.db.is_initialised():
            raise NotInitialised(data_dir)
        return instance

    @classmethod
    def create(cls, data_dir: Path) -> Instance:
        data_dir.mkdir(parents=True, exist_ok=True)
        instance = cls(data_dir)
        instance.db.create_schema()
        instance.blobs.create()
        return instance

    def close(self) -> None:
        self.db.close()
