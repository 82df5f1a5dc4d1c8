"""JSON containment that means the same on both backends (Postgres' jsonb `@>`)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Boolean, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["json_contains"]


class json_contains(FunctionElement[bool]):
    """True where the JSON `column` contains `fragment` (keys, array elements, values).

    `col.contains({...})` on a JSON column is refused on both backends: SQLAlchemy
    compiles it to a LIKE on the JSON text, which finds nothing on SQLite and fails
    on Postgres.
    """

    type = Boolean()
    inherit_cache = True

    def __init__(self, column: Any, fragment: Any) -> None:
        document = coercions.expect(roles.ExpressionElementRole, column)
        text = literal(json.dumps(fragment, separators=(",", ":")), String())
        super().__init__(document, text)


@compiles(json_contains, "postgresql")
def _json_contains_postgres(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    document, fragment = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({document} AS JSONB) @> CAST({fragment} AS JSONB))"


@compiles(json_contains, "sqlite")
def _json_contains_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    document, fragment = (compiler.process(c, **kw) for c in element.clauses)
    return f"(core_json_contains({document}, {fragment}) = 1)"
