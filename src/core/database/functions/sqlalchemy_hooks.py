"""Compile hooks that make SQLAlchemy's own spellings mean the same on both backends.

`func.sum`, `extract()`, `cast()`, `regexp_match()`/`regexp_replace()` and `/`
compile differently per dialect here; what cannot mean the same is refused on both
with a `CompileError` that names the portable spelling.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import types as sqltypes
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import functions as sa_functions
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, Cast, Extract

from core.database.functions.sqlite_udfs import regex_flags

__all__: list[str] = []

# Fields whose value is a whole number on both (Postgres' EXTRACT returns NUMERIC).
_INTEGER_FIELDS = {"year", "month", "day", "hour", "minute", "second", "dow", "doy", "epoch"}


def _affinity(clause: Any) -> Any:
    return clause.type._type_affinity


def _integer_bits(integer: Any) -> int:
    if isinstance(integer, sqltypes.BigInteger):
        return 64
    return 16 if isinstance(integer, sqltypes.SmallInteger) else 32


@compiles(sa_functions.sum)
def _sum(element: Any, compiler: Any, **kw: Any) -> str:
    (argument,) = element.clauses.clauses or (None,)
    if argument is not None and isinstance(argument.type, sqltypes.Boolean):
        # Postgres has no sum(boolean); SQLite's would come back as True.
        raise sa_exc.CompileError(
            "sum() of a boolean is not portable: use functions.count_true(condition)"
        )
    sql = str(compiler.visit_function(element, **kw))
    if compiler.dialect.name == "postgresql" and _affinity(element) is sqltypes.Integer:
        # Postgres sums BIGINT into NUMERIC (a Decimal); SQLite into an integer.
        return f"CAST({sql} AS BIGINT)"
    return sql


@compiles(Extract, "postgresql")
def _extract_postgres(element: Extract, compiler: Any, **kw: Any) -> str:
    field = element.field.lower()
    if field not in _INTEGER_FIELDS | {"week"}:
        raise sa_exc.CompileError(f"extract({field!r}) is not portable")
    sql = str(compiler.visit_extract(element, **kw))
    # Whole numbers, truncated, as SQLite's strftime gives them.
    return f"CAST(floor({sql}) AS INTEGER)"


@compiles(Extract, "sqlite")
def _extract_sqlite(element: Extract, compiler: Any, **kw: Any) -> str:
    field = element.field.lower()
    if field == "week":
        # strftime('%W') counts weeks from the first Monday; Postgres' week is ISO 8601's.
        return f"core_iso_week({compiler.process(element.expr, **kw)})"
    if field not in _INTEGER_FIELDS:
        raise sa_exc.CompileError(f"extract({field!r}) is not portable")
    return str(compiler.visit_extract(element, **kw))


@compiles(Cast, "sqlite")
def _cast_sqlite(element: Cast[Any], compiler: Any, **kw: Any) -> str:
    target, source = _affinity(element), _affinity(element.clause)
    inner = compiler.process(element.clause, **kw)
    if target is sqltypes.Date and source in (sqltypes.DateTime, sqltypes.String):
        return f"date({inner})"  # CAST(text AS DATE) gives the year as a number
    if target is sqltypes.Integer:
        # SQLite's CAST reads '12abc' as 12, truncates a real toward zero and never
        # overflows; Postgres refuses bad text, rounds a float half to even and a numeric
        # half away from zero, and refuses what the integer type cannot hold.
        bits = _integer_bits(element.type)
        if source in (sqltypes.String, sqltypes.NullType):
            return f"core_strict_integer({inner}, {bits})"
        if source is sqltypes.Float:
            return f"core_float_to_integer({inner}, {bits})"
        if source is sqltypes.Numeric:
            return f"core_numeric_to_integer({inner}, {bits})"
    return str(compiler.visit_cast(element, **kw))


_TEXT_SEARCH = (
    operators.contains_op,
    operators.not_contains_op,
    operators.like_op,
    operators.not_like_op,
    operators.startswith_op,
    operators.endswith_op,
)


def _refuse_text_search_in_json(element: BinaryExpression[Any]) -> None:
    if element.operator in _TEXT_SEARCH and isinstance(element.left.type, sqltypes.JSON):
        raise sa_exc.CompileError(
            "contains()/like() on a JSON column searches its text: "
            "use functions.json_contains(column, {...})"
        )


@compiles(BinaryExpression, "sqlite")
def _binary_sqlite(element: BinaryExpression[Any], compiler: Any, **kw: Any) -> str:
    operator = element.operator
    _refuse_text_search_in_json(element)
    if operator in (operators.regexp_match_op, operators.not_regexp_match_op):
        flags = element.modifiers.get("flags")
        regex_flags(flags)  # refuse what cannot mean the same
        left, right = compiler.process(element.left, **kw), compiler.process(element.right, **kw)
        flag_sql = compiler.render_literal_value(flags or "", sqltypes.STRINGTYPE)
        call = f"core_regexp({right}, {left}, {flag_sql})"
        return call if operator is operators.regexp_match_op else f"NOT {call}"
    if operator is operators.collate and getattr(element.right, "collation", None) == "C":
        # Postgres' "C" is code-point order, which is SQLite's own BINARY (UTF-8 bytes).
        return f"{compiler.process(element.left, **kw)} COLLATE BINARY"
    if operator is operators.regexp_replace_op:
        flags = element.modifiers.get("flags")
        regex_flags(flags)
        left = compiler.process(element.left, **kw)
        pattern_replacement = compiler.process(element.right, **kw)
        flag_sql = compiler.render_literal_value(flags or "", sqltypes.STRINGTYPE)
        return f"core_regexp_replace({left}, {pattern_replacement}, {flag_sql})"
    if operator in _DIVISIONS:
        # SQLite answers x / 0 and x % 0 with NULL; Postgres refuses them. The divisor
        # goes through a check that refuses zero the same way ("division by zero").
        checked = sa_functions.Function(
            "core_divisor", element.left, element.right, type_=element.right.type
        )
        element = BinaryExpression(
            element.left, checked, operator, type_=element.type, modifiers=element.modifiers
        )
    return str(compiler.visit_binary(element, **kw))


_DIVISIONS = (operators.truediv, operators.floordiv, operators.mod)


@compiles(BinaryExpression, "postgresql")
def _binary_postgres(element: BinaryExpression[Any], compiler: Any, **kw: Any) -> str:
    operator = element.operator
    _refuse_text_search_in_json(element)
    if operator in (
        operators.regexp_match_op,
        operators.not_regexp_match_op,
        operators.regexp_replace_op,
    ):
        regex_flags(element.modifiers.get("flags"))
    elif (
        operator is operators.truediv
        and _affinity(element.left) is sqltypes.Integer
        and _affinity(element.right) is sqltypes.Integer
    ):
        # SQLite divides integers in binary floating point; Postgres would in NUMERIC,
        # with another scale: the same float on both reads back as the same Decimal.
        left = compiler.process(element.left, **kw)
        right = compiler.process(element.right, **kw)
        return f"(CAST({left} AS DOUBLE PRECISION) / {right})"
    return str(compiler.visit_binary(element, **kw))
