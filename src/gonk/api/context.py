"""What every route needs: the installation, the caller, and the checked dataset name."""

from __future__ import annotations

from flask import current_app, g

from .. import queries
from ..domain import validation
from ..installation import Installation


def installation() -> Installation:
    return current_app.extensions["gonk"]


def user() -> str:
    return g.user


def dataset(name: str) -> str:
    """A dataset name from the path, validated (no path can name anything but a dataset) and
    readable by the caller: a private dataset is 404 for whoever is neither an owner nor a
    member, exactly as if it did not exist (every route under /datasets/<d> starts here)."""
    name = validation.dataset_name(name)
    queries.require_readable(installation(), name, user())
    return name


def dataset_name_only(name: str) -> str:
    """A dataset name from the path, validated only: for a route whose service checks in its
    own transaction that the caller may read the dataset, answering 404 as `dataset` does (the
    work queue's claim, its busiest path)."""
    return validation.dataset_name(name)


def dataset_name_for_upload(name: str) -> str:
    """A dataset name from the path, validated only: for the routes that stream a body into the
    blob store, where whether the caller may read the dataset is checked when the store is
    first touched (service.store_stream with the caller as `reader`), exactly where an unknown
    dataset is found, so that a private dataset answers as an unknown one does in every case
    (a malformed body: 400 for both)."""
    return validation.dataset_name(name)
