"""Text and number functions that exist, and mean the same, on SQLite and Postgres.

Each is a SQLAlchemy `GenericFunction`, so `func.greatest(...)` and
`functions.greatest(...)` are the same object; each compiles per dialect, to the
native function on Postgres and, where SQLite has none or one that means something
else, to a Python function registered on every SQLite connection (sqlite_udfs.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Integer, String, literal, null
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql import functions as sa_functions
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.functions import GenericFunction, ReturnTypeFromArgs
from sqlalchemy.sql.operators import desc_op

from core.database.functions.results import FloatResult, result_type_like

__all__ = [
    "avg",
    "concat",
    "count_true",
    "greatest",
    "group_concat",
    "least",
    "left",
    "lower",
    "mod",
    "right",
    "round",
    "string_agg",
    "substr",
    "upper",
]

concat = sa_functions.concat  # SQLAlchemy's own; compiled for SQLite below


def _args(element: Any, compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


def _call(name: str, element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{name}({', '.join(_args(element, compiler, **kw))})"


@compiles(sa_functions.concat, "sqlite")
def _concat_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    # Postgres' concat() skips NULLs; `||` would make the whole result NULL.
    parts = [f"coalesce(CAST({arg} AS TEXT), '')" for arg in _args(element, compiler, **kw)]
    joined = " || ".join(parts) or "''"
    return f"({joined})"


class greatest(ReturnTypeFromArgs[Any]):
    """The largest non-NULL argument; NULL only when all are NULL (Postgres' rule)."""

    inherit_cache = True


class least(ReturnTypeFromArgs[Any]):
    """The smallest non-NULL argument; NULL only when all are NULL."""

    inherit_cache = True


@compiles(greatest, "sqlite")
@compiles(least, "sqlite")
def _extreme_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's multi-argument max()/min() return NULL if any argument is NULL; each
    # coalesce() picks its own argument or, failing that, any non-NULL one.
    args = list(element.clauses)
    extreme = "max" if isinstance(element, greatest) else "min"
    if len(args) == 1:
        return compiler.process(args[0], **kw)
    picks = []
    for index in range(len(args)):
        order = [args[index], *args[:index], *args[index + 1 :]]
        picks.append(f"coalesce({', '.join(compiler.process(a, **kw) for a in order)})")
    return f"{extreme}({', '.join(picks)})"


class substr(ReturnTypeFromArgs[Any]):
    """`substr(s, start[, length])` counting from 1; a start below 1 does not count from the end.

    SQLite's own counts a negative start from the end (`substr('abcdef', -3)` is
    'def' there, 'abcdef' on Postgres); this is the Postgres (SQL standard) meaning.
    """

    inherit_cache = True


class left(ReturnTypeFromArgs[Any]):
    """The first n characters; a negative n drops that many from the end."""

    inherit_cache = True


class right(ReturnTypeFromArgs[Any]):
    """The last n characters; a negative n drops that many from the start."""

    inherit_cache = True


@compiles(substr, "sqlite")
@compiles(left, "sqlite")
@compiles(right, "sqlite")
def _python_text_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return _call(f"core_{element.name}", element, compiler, **kw)


class lower(ReturnTypeFromArgs[Any]):
    """Lower case of any letter (SQLite's own lower() folds ASCII only)."""

    inherit_cache = True
    identifier = name = (
        "core_lower"  # func.lower stays SQLite's own: indexes on it keep working elsewhere
    )


class upper(ReturnTypeFromArgs[Any]):
    """Upper case of any letter (SQLite's own upper() folds ASCII only)."""

    inherit_cache = True
    identifier = name = "core_upper"


@compiles(lower, "postgresql")
@compiles(upper, "postgresql")
def _case_postgres(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return _call(element.name.removeprefix("core_"), element, compiler, **kw)


class round(GenericFunction[Any]):
    """`round(x[, places])` half away from zero on both; the result keeps x's Python type.

    Postgres rounds a float half to even (`round(2.5)` is 2) and NUMERIC half away
    from zero; SQLite rounds its decimal text half away from zero and returns a float.
    """

    inherit_cache = True

    def __init__(self, value: Any, places: Any = 0, **kw: Any) -> None:
        value = coercions.expect(roles.ExpressionElementRole, value)
        digits = places if isinstance(places, int) else None
        kw.setdefault("type_", result_type_like(value.type, digits))
        super().__init__(value, literal(places, Integer()) if digits is not None else places, **kw)


@compiles(round, "postgresql")
def _round_postgres(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    value, places = _args(element, compiler, **kw)
    return f"round(CAST({value} AS NUMERIC), {places})"


@compiles(round, "sqlite")
def _round_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return _call("core_round", element, compiler, **kw)


class _SameKindResult(GenericFunction[Any]):
    """A one-argument numeric function whose result keeps the argument's Python type.

    SQLite answers `floor(-1.5)` with an int and `sign(-3)` with an int; Postgres with
    a float for both (an integer argument goes to its double precision variant).
    """

    inherit_cache = True

    def __init__(self, value: Any, **kw: Any) -> None:
        value = coercions.expect(roles.ExpressionElementRole, value)
        kw.setdefault("type_", result_type_like(value.type))
        super().__init__(value, **kw)


class floor(_SameKindResult):
    """The largest whole number not above x, as x's type: int, float or Decimal."""

    inherit_cache = True


class ceil(_SameKindResult):
    """The smallest whole number not below x, as x's type."""

    inherit_cache = True


class ceiling(ceil):
    """The SQL standard's name for ceil."""

    inherit_cache = True


class trunc(_SameKindResult):
    """x without its fraction (toward zero), as x's type."""

    inherit_cache = True


class sign(_SameKindResult):
    """-1, 0 or 1, as x's type."""

    inherit_cache = True


class abs(_SameKindResult):
    """|x|, as x's type."""

    inherit_cache = True


class mod(GenericFunction[Any]):
    """The remainder, with the dividend's sign; an int for integers (SQLite's mod() is REAL)."""

    inherit_cache = True

    def __init__(self, dividend: Any, divisor: Any, **kw: Any) -> None:
        dividend = coercions.expect(roles.ExpressionElementRole, dividend)
        kw.setdefault("type_", result_type_like(dividend.type))
        super().__init__(dividend, divisor, **kw)


@compiles(mod, "sqlite")
def _mod_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's mod(x, 0) is NULL; Postgres refuses it, as it does x % 0.
    dividend, divisor = _args(element, compiler, **kw)
    return f"mod({dividend}, core_divisor({dividend}, {divisor}))"


class avg(GenericFunction[Any]):
    """The mean: a float for integer and float columns, a Decimal for decimal columns."""

    inherit_cache = True

    def __init__(self, value: Any, **kw: Any) -> None:
        value = coercions.expect(roles.ExpressionElementRole, value)
        kind = result_type_like(value.type)
        kw.setdefault("type_", kind if kind._type_affinity is not Integer else FloatResult())
        super().__init__(value, **kw)


class string_agg(GenericFunction[str]):
    """Join the non-NULL values with `separator`, in `order_by` order (ascending or `.desc()`)."""

    type = String()
    inherit_cache = True

    def __init__(
        self, value: Any, separator: Any = ",", *, order_by: Any = None, **kw: Any
    ) -> None:
        descending = isinstance(order_by, UnaryExpression) and order_by.modifier is desc_op
        key = order_by.element if descending else order_by
        key = null() if key is None else key
        super().__init__(value, separator, key, literal(int(descending), Integer()), **kw)


class group_concat(string_agg):
    """SQLite's name for `string_agg`; the same function on both backends."""

    inherit_cache = True


@compiles(string_agg, "sqlite")
def _string_agg_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    value, separator, key, _descending = list(element.clauses)
    if _is_null(key):
        return f"group_concat({compiler.process(value, **kw)}, {compiler.process(separator, **kw)})"
    return _call("core_string_agg", element, compiler, **kw)


@compiles(string_agg, "postgresql")
def _string_agg_postgres(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    value, separator, key, descending = list(element.clauses)
    text = f"CAST({compiler.process(value, **kw)} AS TEXT), {compiler.process(separator, **kw)}"
    if _is_null(key):
        return f"string_agg({text})"
    direction = "DESC" if descending.effective_value else "ASC"
    return f"string_agg({text} ORDER BY {compiler.process(key, **kw)} {direction})"


def _is_null(clause: ColumnElement[Any]) -> bool:
    return clause.__visit_name__ == "null"


class instr(GenericFunction[int]):
    """SQLite's instr(s, sub): 1-based position, 0 if absent (Postgres' strpos)."""

    type = Integer()
    inherit_cache = True


@compiles(instr, "postgresql")
def _instr_postgres(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return _call("strpos", element, compiler, **kw)


class ifnull(ReturnTypeFromArgs[Any]):
    """SQLite's ifnull(a, b): coalesce of two."""

    inherit_cache = True


@compiles(ifnull, "postgresql")
def _ifnull_postgres(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return _call("coalesce", element, compiler, **kw)


class bool_and(GenericFunction[bool]):
    """True if every non-NULL input is true (SQLite: registered under Postgres' name)."""

    type = Boolean()
    inherit_cache = True


class bool_or(GenericFunction[bool]):
    """True if any non-NULL input is true."""

    type = Boolean()
    inherit_cache = True


class every(bool_and):
    """The SQL standard's name for bool_and."""

    inherit_cache = True


def count_true(condition: Any) -> ColumnElement[int]:
    """How many rows satisfy `condition` (portable where `sum(boolean)` is not)."""
    return sa_functions.count().filter(condition)
