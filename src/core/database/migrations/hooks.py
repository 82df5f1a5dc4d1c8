"""Autogenerate hooks: migration files that run on both backends, and no empty revisions."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from alembic.autogenerate.api import AutogenContext
from alembic.autogenerate.render import _repr_type
from alembic.ddl.impl import DefaultImpl
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from sqlalchemy import DefaultClause
from sqlalchemy.engine import URL
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["render_item", "skip_empty_revision"]

# Spellings of "the current time" a model may use as a server default.
_NOW = frozenset({"CURRENT_TIMESTAMP", "NOW"})


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render types and server defaults so the file runs on SQLite and Postgres alike.

    A custom TypeDecorator becomes the SQLAlchemy type it stores (a migration file
    must not import app or toolkit code, which moves on); a Postgres type in a file
    generated on SQLite gets Postgres' rendering; a current-time server default
    becomes CURRENT_TIMESTAMP (``now()`` does not run on SQLite). Anything else: False.
    """
    if type_ == "type" and isinstance(obj, TypeEngine):
        return _render_type(obj, autogen_context)
    if type_ == "server_default" and isinstance(obj, DefaultClause):
        return _render_now(obj, autogen_context)
    return False


def skip_empty_revision(
    context: MigrationContext, revision: object, directives: list[MigrationScript]
) -> None:
    """With ``revision --autogenerate``, write no file when the models match the database."""
    config = context.config
    # `alembic check` runs the same hook and needs the (empty) script it inspects.
    if config is None or not getattr(config.cmd_opts, "autogenerate", False):
        return
    if directives and all(ops.is_empty() for ops in directives[0].upgrade_ops_list):
        directives.clear()
        config.print_stdout("No changes detected in the models: no revision written.")


def _render_type(type_: TypeEngine[Any], autogen_context: AutogenContext) -> str | Literal[False]:
    if isinstance(type_, TypeDecorator) and not _from_sqlalchemy(type_):
        # Alembic's renderer for the stored type adds the imports it needs.
        return _repr_type(type_.impl_instance, autogen_context)
    module = type(type_).__module__
    dialect = module.split(".")[2] if module.startswith("sqlalchemy.dialects.") else None
    if dialect is None or dialect == autogen_context.dialect.name:
        return False
    # Generated on SQLite, JSONB would be rendered as `JSONB(astext_type=Text())`:
    # a name the file does not import. The type's own dialect renders it right.
    rendered = _dialect_impl(dialect).render_type(type_, autogen_context)
    if rendered is not False and autogen_context.imports is not None:
        autogen_context.imports.add(f"from sqlalchemy.dialects import {dialect}")
    return rendered


def _render_now(default: DefaultClause, autogen_context: AutogenContext) -> str | Literal[False]:
    if isinstance(default.arg, str):
        return False
    sql = str(default.arg.compile(dialect=autogen_context.dialect))
    if sql.strip().strip("()").upper() not in _NOW:
        return False
    prefix = autogen_context.opts["sqlalchemy_module_prefix"]
    return f'{prefix}text("CURRENT_TIMESTAMP")'


def _from_sqlalchemy(type_: TypeEngine[Any]) -> bool:
    return type(type_).__module__.startswith("sqlalchemy.")


@cache
def _dialect_impl(name: str) -> DefaultImpl:
    dialect = URL.create(name).get_dialect()()
    return DefaultImpl.get_by_dialect(dialect)(dialect, None, False, None, None, {})
