"""Autogenerate hooks: migration files that run on both backends, and no empty revisions."""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Literal

from alembic.autogenerate.api import AutogenContext
from alembic.autogenerate.render import _repr_type
from alembic.ddl.impl import DefaultImpl
from alembic.operations.ops import AlterColumnOp, MigrationScript, UpgradeOps
from alembic.runtime.migration import MigrationContext
from sqlalchemy import DefaultClause, Enum, String, TextClause
from sqlalchemy.engine import URL
from sqlalchemy.types import TypeDecorator, TypeEngine

from core.database.migrations.draft_ops import ReviewNote
from core.database.migrations.drafts import make_safe
from core.database.migrations.narrowing import guard_narrowing
from core.database.migrations.reflected import is_reflected, render_reflected_type

__all__ = ["plain_enum_alters", "prepare_revision", "render_item", "skip_empty_revision"]

# Spellings of "the current time" a model may use as a server default.
_NOW = frozenset({"CURRENT_TIMESTAMP", "NOW"})
# A literal cast the way Postgres reflects a default: 'x'::character varying.
_LITERAL_CAST = re.compile(r"('(?:[^']|'')*')::[a-z ]+(?:\(\d+\))?", re.IGNORECASE)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render types and server defaults so the file runs on SQLite and Postgres alike.

    A custom TypeDecorator becomes the SQLAlchemy type it stores (a migration file
    must not import app or toolkit code, which moves on); a Postgres type in a file
    generated on SQLite gets Postgres' rendering; a current-time server default
    becomes CURRENT_TIMESTAMP (``now()`` does not run on SQLite). A type reflected
    from the database (a dropped table's downgrade) becomes its portable form, and a
    reflected literal default loses Postgres' cast. Anything else: False.
    """
    if type_ == "type" and isinstance(obj, TypeEngine):
        if is_reflected(obj, autogen_context):
            return render_reflected_type(obj, autogen_context)
        return _render_type(obj, autogen_context)
    if type_ == "server_default" and isinstance(obj, DefaultClause):
        return _render_now(obj, autogen_context) or _render_uncast(obj, autogen_context)
    return False


def prepare_revision(
    context: MigrationContext, revision: object, directives: list[MigrationScript]
) -> None:
    """The ``process_revision_directives`` hook: a safe draft, both ways, or no file."""
    for script in directives:
        make_safe(context, script)
        for upgrade_ops in script.upgrade_ops_list:
            plain_enum_alters(upgrade_ops)
        for upgrade_ops, downgrade_ops in zip(
            script.upgrade_ops_list, script.downgrade_ops_list, strict=True
        ):
            upgrade_ops.reverse_into(downgrade_ops)
            downgrade_ops.ops[:] = [
                op for op in downgrade_ops.ops if not isinstance(op, ReviewNote)
            ]
            guard_narrowing(upgrade_ops)
            guard_narrowing(downgrade_ops)
    skip_empty_revision(context, revision, directives)


def plain_enum_alters(upgrade_ops: UpgradeOps) -> None:
    """An enum column's new type is written as the VARCHAR it is.

    Alembic's ``alter_column`` would add the enum's CHECK itself, next to the one the
    CHECK comparator (checks.py) already replaces: "constraint already exists".
    """
    for table_ops in upgrade_ops.ops:
        for op in getattr(table_ops, "ops", ()):
            if isinstance(op, AlterColumnOp) and isinstance(op.modify_type, Enum):
                op.modify_type = String(op.modify_type.length)


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


def _render_uncast(default: DefaultClause, autogen_context: AutogenContext) -> str | Literal[False]:
    if not isinstance(default.arg, TextClause):
        return False
    sql = _LITERAL_CAST.sub(r"\1", default.arg.text)
    if sql == default.arg.text:
        return False
    prefix = autogen_context.opts["sqlalchemy_module_prefix"]
    return f"{prefix}text({sql!r})"


def _from_sqlalchemy(type_: TypeEngine[Any]) -> bool:
    return type(type_).__module__.startswith("sqlalchemy.")


@cache
def _dialect_impl(name: str) -> DefaultImpl:
    dialect = URL.create(name).get_dialect()()
    return DefaultImpl.get_by_dialect(dialect)(dialect, None, False, None, None, {})
