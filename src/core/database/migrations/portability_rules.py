"""The rules of the portability check: each Postgres-only construct and its portable form."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

from sqlalchemy import UUID, BigInteger, Column, Index, Sequence, SmallInteger, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import CompileError
from sqlalchemy.sql.elements import ClauseElement, TextClause
from sqlalchemy.types import TypeEngine

from core.database.migrations.portability_types import Finding

__all__ = [
    "bigint_key_finding",
    "column_findings",
    "default_findings",
    "index_findings",
    "raw_sql_findings",
    "table_findings",
]

_SQLITE = sqlite.dialect()
# Postgres type -> the portable spelling.
_TYPE_FIXES = {
    "JSONB": "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql') (the toolkit's JSONType)",
    "JSON": "sa.JSON()",
    "UUID": "sa.Uuid() (native uuid on Postgres, CHAR(32) on SQLite)",
    "ARRAY": "sa.JSON() holding a list, or a child table",
    "ENUM": "sa.Enum(..., native_enum=False, create_constraint=True) (portable_enum)",
    "INET": "sa.String(45)",
    "CIDR": "sa.String(43)",
    "MACADDR": "sa.String(17)",
    "TSVECTOR": "postgresql.TSVECTOR().with_variant(sa.Text(), 'sqlite')",
    "INTERVAL": "sa.Interval()",
    "BYTEA": "sa.LargeBinary()",
    "TIMESTAMP": "sa.DateTime(timezone=True) (UTCDateTime in models)",
    "DOUBLE_PRECISION": "sa.Double()",
    "MONEY": "sa.Numeric(19, 4) (ExactDecimal in models)",
}
_GENERIC_TYPE_FIX = "a generic SQLAlchemy type, or .with_variant(<a SQLite type>, 'sqlite')"
_NOW = re.compile(r"\b(now|clock_timestamp|statement_timestamp|transaction_timestamp)\s*\(", re.I)
_RAW_SQL = (
    (re.compile(r"::\s*\w"), "a :: cast", "CAST(x AS type), or run it on Postgres only"),
    (re.compile(r"\bnow\s*\(\s*\)", re.I), "now()", "CURRENT_TIMESTAMP"),
    (re.compile(r"\bilike\b", re.I), "ILIKE", "lower(x) LIKE lower(y)"),
    (re.compile(r"\bjsonb\b", re.I), "JSONB", "JSON, or run it on Postgres only"),
    (re.compile(r"\b(big)?serial\b", re.I), "SERIAL", "INTEGER PRIMARY KEY (autoincrements)"),
    (re.compile(r"\bcreate\s+extension\b", re.I), "CREATE EXTENSION", "run it on Postgres only"),
    (re.compile(r"\bgen_random_uuid\b", re.I), "gen_random_uuid()", "a Python default uuid4"),
    (re.compile(r"\$\$"), "a $$ block", "run it on Postgres only"),
)
_POSTGRES_ONLY_GUARD = "if op.get_bind().dialect.name == 'postgresql': ..."


def table_findings(table: Table) -> Iterator[Finding]:
    """Postgres-only table options (partitioning, inheritance, storage parameters)."""
    for key in sorted(_postgres_kwargs(table)):
        yield Finding(
            "note",
            f"table {table.name}",
            f"{key}= applies on Postgres only",
            "keep it if SQLite may ignore it (tests); otherwise create it in a revision "
            f"step guarded by `{_POSTGRES_ONLY_GUARD}`",
        )


def column_findings(
    table: Table | None, column: Column[Any], *, table_name: str | None = None
) -> Iterator[Finding]:
    """A column's type, primary key, default and options as SQLite would see them."""
    name = table.name if table is not None else table_name
    where = f"table {name}, column {column.name}"
    type_ = _sqlite_type(column.type)
    yield from _type_findings(where, type_)
    single_key = table is not None and len(table.primary_key.columns) == 1
    if column.primary_key and single_key and isinstance(type_, BigInteger | SmallInteger):
        yield bigint_key_finding(where, type_.compile(dialect=_SQLITE))
    if column.server_default is not None:
        yield from default_findings(where, getattr(column.server_default, "arg", None))
    if isinstance(column.default, Sequence):
        yield Finding(
            "note",
            where,
            f"sequence {column.default.name} exists on Postgres only",
            "an autoincrementing primary key (Integer, or the toolkit's BigIntPK) instead",
        )
    for key in sorted(_postgres_kwargs(column)):
        yield Finding(
            "note", where, f"{key}= applies on Postgres only", "nothing, if that is meant"
        )


def bigint_key_finding(where: str, declared: str) -> Finding:
    """A single-column integer key that SQLite does not auto-number."""
    return Finding(
        "error",
        where,
        f"{declared} primary key is not a rowid alias on SQLite: an insert without an id "
        "fails (NOT NULL), where Postgres numbers it",
        "sa.BigInteger().with_variant(sa.Integer(), 'sqlite') in the migration "
        "(the toolkit's BigIntPK in models)",
    )


def default_findings(where: str, default: Any, *, raw: bool = False) -> Iterator[Finding]:
    """A server default that SQLite cannot evaluate: now(), casts, Postgres functions."""
    sql = default if raw else _default_sql(default)
    if sql is None:
        return
    problem = _sqlite_error(f"SELECT {sql}")
    if problem is None:
        return
    yield Finding("error", where, f"server default {sql} fails on SQLite ({problem})", _fix(sql))


def index_findings(index: Index) -> Iterator[Finding]:
    """Partial and method-specific indexes, which SQLite builds differently or not at all."""
    table = index.table.name if index.table is not None else "?"
    where = f"table {table}, index {index.name}"
    kwargs = _postgres_kwargs(index)
    if "postgresql_where" in kwargs and index.dialect_options["sqlite"]["where"] is None:
        yield Finding(
            "error" if index.unique else "note",
            where,
            "postgresql_where= makes it partial on Postgres only: SQLite indexes every row"
            + (", so its uniqueness refuses rows Postgres accepts" if index.unique else ""),
            "add sqlite_where= with the same condition",
        )
    for key in sorted(kwargs - {"postgresql_where"}):
        yield Finding(
            "note",
            where,
            f"{key}= applies on Postgres only; SQLite builds a plain index",
            "nothing, if a plain index is right for tests",
        )


def raw_sql_findings(sql: str) -> Iterator[Finding]:
    """Postgres syntax in a statement the SQLite replay failed on, with its fix."""
    where = "op.execute(" + " ".join(sql.split())[:60] + ")"
    for pattern, construct, fix in _RAW_SQL:
        if pattern.search(sql):
            yield Finding(
                "note",
                where,
                f"{construct} is Postgres syntax",
                f"{fix}; or guard the statement with `{_POSTGRES_ONLY_GUARD}`",
            )


def _type_findings(where: str, type_: TypeEngine[Any]) -> Iterator[Finding]:
    module = type(type_).__module__
    name = type(type_).__name__.upper()
    if module.startswith("sqlalchemy.dialects.postgresql"):
        fix = _TYPE_FIXES.get(name, _GENERIC_TYPE_FIX)
        yield Finding("error", where, f"postgresql.{type(type_).__name__} has no SQLite form", fix)
        return
    if type(type_) is UUID:
        yield Finding(
            "note",
            where,
            "UUID (the native type) is a UUID-named column of text on SQLite",
            "sa.Uuid(): native uuid on Postgres, CHAR(32) on SQLite, uuid.UUID on both",
        )
        return
    try:
        type_.compile(dialect=_SQLITE)
    except CompileError:
        fix = _TYPE_FIXES.get(name, _GENERIC_TYPE_FIX)
        yield Finding("error", where, f"{type(type_).__name__} does not compile on SQLite", fix)


def _sqlite_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    # with_variant(..., "sqlite") is what SQLite gets.
    variants: dict[str, TypeEngine[Any]] = getattr(type_, "_variant_mapping", {})
    return variants.get("sqlite", type_)


def _default_sql(default: Any) -> str | None:
    if default is None or isinstance(default, str):
        return None  # a literal: portable
    if isinstance(default, TextClause):
        return default.text
    if isinstance(default, ClauseElement):
        try:
            return str(default.compile(dialect=_SQLITE))
        except CompileError:
            return str(default)
    return None


def _sqlite_error(sql: str) -> str | None:
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(sql)
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        connection.close()
    return None


def _fix(sql: str) -> str:
    lowered = sql.lower()
    if _NOW.search(sql) or "timezone(" in lowered:
        return 'server_default=sa.text("CURRENT_TIMESTAMP") (or sa.func.current_timestamp())'
    if "uuid" in lowered:
        return "default=uuid.uuid4 on the model (Python side), no server default"
    if "nextval" in lowered:
        return "an autoincrementing primary key (Integer, or the toolkit's BigIntPK)"
    if "::" in sql:
        return "the literal without its cast, e.g. sa.text(\"'{}'\")"
    return "a portable expression, or a Python-side default on the model"


def _postgres_kwargs(item: Any) -> set[str]:
    kwargs = getattr(item, "dialect_kwargs", {})
    return {
        key
        for key, value in kwargs.items()
        if key.startswith("postgresql_") and value is not None and value is not False
    }
