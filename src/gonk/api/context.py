"""What every route needs: the installation, the caller, and the checked dataset name."""

from __future__ import annotations

from flask import current_app, g

from ..domain import validation
from ..installation import Installation


def installation() -> Installation:
    return current_app.extensions["gonk"]


def user() -> str:
    return g.user


def dataset(name: str) -> str:
    """Validate a dataset name from the path: no path can name anything but a dataset."""
    return validation.dataset_name(name)
