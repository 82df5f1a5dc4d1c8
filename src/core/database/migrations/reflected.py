"""Types read back from a database, written into a revision so it runs on both backends.

A dropped table's downgrade, a dropped column's, an ``existing_type=``: Alembic
writes the type it reflected, in the connected dialect's words (``sa.DATETIME()``
from SQLite does not exist on Postgres). These become the portable types the
toolkit's models use.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic.autogenerate.api import AutogenContext
from alembic.autogenerate.render import _repr_type
from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["is_reflected", "render_reflected_type"]

_MODEL_TYPES = "core.database.model_type_ids"


def is_reflected(type_: TypeEngine[Any], autogen_context: AutogenContext) -> bool:
    """True for a type that came from the database rather than from the models.

    Model types are the target metadata's own objects (Alembic passes them through
    by identity); reflected ones are instances of a dialect's or the UPPERCASE types.
    """
    cls = type(type_)
    dialect_type = cls.__module__.startswith("sqlalchemy.dialects.")
    uppercase_type = cls.__module__ == "sqlalchemy.sql.sqltypes" and cls.__name__.isupper()
    if not (dialect_type or uppercase_type):
        return False
    return id(type_) not in _model_type_ids(autogen_context)


def render_reflected_type(
    type_: TypeEngine[Any], autogen_context: AutogenContext
) -> str | Literal[False]:
    """The portable spelling of a reflected type; False where there is none (INET)."""
    prefix = autogen_context.opts["sqlalchemy_module_prefix"]
    if isinstance(type_, JSON):
        # The toolkit's JSON column: JSONB on Postgres, JSON text on SQLite.
        if autogen_context.imports is not None:
            autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return (
            f"{prefix}JSON(none_as_null=True).with_variant("
            f'postgresql.JSONB(none_as_null=True, astext_type={prefix}Text()), "postgresql")'
        )
    if isinstance(type_, DateTime):
        # SQLite keeps no zone in its schema; the toolkit stores aware UTC only
        # (UTCDateTime), so a SQLite DATETIME was an aware column.
        aware = bool(type_.timezone) or autogen_context.dialect.name == "sqlite"
        return f"{prefix}DateTime(timezone=True)" if aware else f"{prefix}DateTime()"
    try:
        generic = type_.as_generic()
    except NotImplementedError:
        return False
    sqlite = autogen_context.dialect.name == "sqlite"
    if sqlite and isinstance(generic, BigInteger):
        # SQLite keeps the declared name: BIGINT there was a plain BigInteger.
        return f"{prefix}BigInteger()"
    if isinstance(generic, BigInteger) or (sqlite and type(generic) is Integer):
        # The toolkit's key type (BigIntPK): BIGINT on Postgres, INTEGER on SQLite, where
        # only INTEGER PRIMARY KEY autoincrements. SQLite's INTEGER may have been either
        # an Integer or a key: BIGINT is the one that never narrows a value.
        return f'{prefix}BigInteger().with_variant({prefix}Integer(), "sqlite")'
    return _repr_type(generic, autogen_context)


def _model_type_ids(autogen_context: AutogenContext) -> frozenset[int]:
    cached = autogen_context.opts.get(_MODEL_TYPES)
    if cached is None:
        cached = frozenset(_type_ids(autogen_context.metadata))
        autogen_context.opts[_MODEL_TYPES] = cached
    result: frozenset[int] = cached
    return result


def _type_ids(metadata: MetaData | Any) -> set[int]:
    ids: set[int] = set()
    metadatas = metadata if isinstance(metadata, list | tuple) else [metadata]
    for each in metadatas:
        if each is None:
            continue
        for table in each.tables.values():
            for column in table.columns:
                stack: list[TypeEngine[Any]] = [column.type]
                while stack:
                    type_ = stack.pop()
                    ids.add(id(type_))
                    stack.extend(getattr(type_, "_variant_mapping", {}).values())
                    if isinstance(type_, TypeDecorator):
                        stack.append(type_.impl_instance)
    return ids
