"""Loaded into `st run` by tests/support/fuzz.py (SCHEMATHESIS_HOOKS): works around an
interpreter bug, changing nothing that is generated or checked.

CPython 3.11.7 (gh-113655 and related: fixed in later 3.11 releases) can raise SystemError("AST
constructor recursion depth mismatch") from `ast.parse` called deep in a stack. Hypothesis calls
it to describe a lambda (only for the text of a strategy's repr), and the error then aborted the
generation of a whole operation as a Schemathesis "Runtime Error". Such a description falls back
to "lambda ...: <unknown>", as Hypothesis does when it cannot find a lambda's source.
"""

from __future__ import annotations

from typing import Any

from hypothesis.internal import lambda_sources

_describe = lambda_sources._lambda_description


def _lambda_description(f: Any, *args: Any, **kwargs: Any) -> str:
    try:
        return _describe(f, *args, **kwargs)
    except SystemError as exc:
        if "recursion depth mismatch" not in str(exc):
            raise
        return "lambda ...: <unknown>"


lambda_sources._lambda_description = _lambda_description
