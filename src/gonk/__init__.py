"""Gonk: a self-hostable backend for creating and versioning annotated datasets."""

__version__ = "0.2.0"
