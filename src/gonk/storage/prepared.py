"""Statements of the write path, compiled once per database dialect and run on the DBAPI cursor.

Every write runs the same dozen statements. Through `Connection.execute`, SQLAlchemy spends far
more time per statement (events, cache keys, parameter processing, result wrapping) than
SQLite spends running it, and all of it inside the dataset's write lock. A `Prepared` statement
is written with SQLAlchemy Core like any other, compiled by the connection's own dialect on
first use, and then run straight on the DBAPI cursor of the caller's connection, inside the
caller's transaction. Database errors are the driver's own (this path expects none: the rules
check everything first).

Only plain values go through here (str, int, bool, None): no type needs converting.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
    from sqlalchemy.sql.compiler import SQLCompiler


class _Compiled:
    __slots__ = ("defaults", "positions", "row_type", "sql")

    def __init__(self, sql: str, positions: Sequence[str] | None, defaults: dict[str, Any]):
        self.sql = sql
        self.positions = positions
        self.defaults = defaults
        self.row_type: Any = None

    def args(self, params: dict[str, Any]) -> Any:
        if self.defaults:
            params = {**self.defaults, **params}
        if self.positions is not None:
            return tuple(params[name] for name in self.positions)
        return params


class Prepared:
    def __init__(self, statement: ClauseElement, columns: Sequence[str] | None = None) -> None:
        """`columns`: for an INSERT, the columns its parameters give values for."""
        self.statement = statement
        self.columns = list(columns) if columns else None
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, conn: Connection) -> _Compiled:
        key = conn.dialect.name
        compiled = self._by_dialect.get(key)
        if compiled is None:
            # `compile` is typed as returning the base Compiled; a statement (not DDL) is always
            # compiled by the dialect's SQLCompiler, which has `positional` and `positiontup`
            result = cast("SQLCompiler",
                          self.statement.compile(dialect=conn.dialect, column_keys=self.columns))
            # bound constants (a kind, a LIMIT) keep their values; parameters a caller must
            # give have none
            defaults = {name: value for name, value in result.params.items()
                        if value is not None and not _is_required(value)}
            # a positional compiler always sets positiontup (typed Optional for the others)
            positions = list(result.positiontup or ()) if result.positional else None
            compiled = self._by_dialect[key] = _Compiled(str(result), positions, defaults)
        return compiled

    def run(self, conn: Connection, params: dict[str, Any]) -> int:
        """Run a data change; returns the rows it touched."""
        compiled = self._compiled(conn)
        cursor = _cursor(conn)
        try:
            cursor.execute(compiled.sql, compiled.args(params))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def run_many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        compiled = self._compiled(conn)
        cursor = _cursor(conn)
        try:
            cursor.executemany(compiled.sql, [compiled.args(row) for row in rows])
        finally:
            cursor.close()

    def first(self, conn: Connection, params: dict[str, Any]) -> Any:
        """The first row (its columns readable by name), or None."""
        compiled = self._compiled(conn)
        cursor = _cursor(conn)
        try:
            cursor.execute(compiled.sql, compiled.args(params))
            row = cursor.fetchone()
            if row is None:
                return None
            if compiled.row_type is None:
                compiled.row_type = namedtuple(  # type: ignore[misc]  # fields known only at run time
                    "Row", [column[0] for column in cursor.description])
            return compiled.row_type(*row)
        finally:
            cursor.close()

    def rows(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, as plain tuples."""
        compiled = self._compiled(conn)
        cursor = _cursor(conn)
        try:
            cursor.execute(compiled.sql, compiled.args(params))
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def scalars(self, conn: Connection, params: dict[str, Any]) -> list[Any]:
        """The first column of every row."""
        compiled = self._compiled(conn)
        cursor = _cursor(conn)
        try:
            cursor.execute(compiled.sql, compiled.args(params))
            return [row[0] for row in cursor.fetchall()]
        finally:
            cursor.close()


def _cursor(conn: Connection) -> DBAPICursor:
    """A new cursor on the DBAPI connection under `conn` (the caller closes it)."""
    # dbapi_connection is typed Optional: it is None only once the connection is closed or
    # invalidated, and every caller here is inside a transaction on it
    return cast("DBAPIConnection", conn.connection.dbapi_connection).cursor()


def _is_required(value: Any) -> bool:
    # SQLAlchemy marks an INSERT column without a value with its `REQUIRED` symbol
    return type(value).__name__ == "symbol"
