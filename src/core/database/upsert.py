"""Portable upsert: insert-or-update and insert-or-ignore, returning ORM objects, on both backends.

Both compile to `INSERT ... ON CONFLICT (...) DO UPDATE / DO NOTHING ... RETURNING`,
which SQLite (3.35+) and Postgres share; rows go in batches (insertmanyvalues), so
any number of rows stays under the bound-parameter limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.database.errors import InvalidValueError

__all__ = ["insert_or_ignore", "upsert"]

M = TypeVar("M")

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


async def upsert(
    session: AsyncSession,
    model: type[M],
    rows: Iterable[Mapping[str, Any]],
    *,
    conflict: Sequence[str] | None = None,
    update: Sequence[str] | None = None,
) -> list[M]:
    """Insert `rows`; where one clashes on `conflict` (default: the primary key), update it.

    `update` names the columns to overwrite (default: every given column outside
    `conflict`); a column with an `onupdate` (TimestampMixin's `updated_at`) is
    bumped too. Returns the inserted or updated objects in the order of `rows`.
    """
    rows = list(rows)
    if not rows:
        return []
    keys = _conflict_keys(model, conflict)
    _refuse_repeated_keys(rows, keys)
    statement = _insert(session, model)
    given = [name for name in rows[0] if name not in keys]
    changes = {name: statement.excluded[name] for name in (update if update is not None else given)}
    for column in sa_inspect(model).local_table.columns:
        bumped = column.onupdate is not None and column.default is not None
        if bumped and column.key not in changes and column.key not in keys:
            # The value the INSERT would have written (its default): "now" for updated_at.
            changes[column.key] = statement.excluded[column.key]
    if not changes:
        return await insert_or_ignore(session, model, rows, conflict=keys)
    statement = statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
    # Not sort_by_parameter_order=True: with ON CONFLICT it sends one row per statement.
    returning = statement.returning(model)
    result = await session.scalars(returning, rows, execution_options={"populate_existing": True})
    return _in_order_of(rows, keys, list(result.all()))


async def insert_or_ignore(
    session: AsyncSession,
    model: type[M],
    rows: Iterable[Mapping[str, Any]],
    *,
    conflict: Sequence[str] | None = None,
) -> list[M]:
    """Insert the `rows` that do not clash on `conflict`; returns only the rows inserted."""
    rows = list(rows)
    if not rows:
        return []
    keys = _conflict_keys(model, conflict)
    _refuse_repeated_keys(rows, keys)
    statement = _insert(session, model).on_conflict_do_nothing(index_elements=list(keys))
    result = await session.scalars(statement.returning(model), rows)
    return list(result.all())


def _in_order_of(rows: list[Mapping[str, Any]], keys: tuple[str, ...], found: list[M]) -> list[M]:
    by_key = {tuple(getattr(obj, name) for name in keys): obj for obj in found}
    try:
        return [by_key[tuple(row[name] for name in keys)] for row in rows]
    except KeyError:  # keys left to the database (identities), or given in another form
        return found


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    dialect = session.get_bind().dialect.name
    return _INSERTS[dialect](model)


def _conflict_keys(model: type[Any], conflict: Sequence[str] | None) -> tuple[str, ...]:
    table = sa_inspect(model).local_table
    if conflict is None:
        return tuple(column.key for column in table.primary_key.columns)
    unknown = [name for name in conflict if name not in table.columns]
    if unknown:
        raise ValueError(f"conflict names unknown columns of {table.name}: {', '.join(unknown)}")
    return tuple(conflict)


def _refuse_repeated_keys(rows: list[Mapping[str, Any]], keys: tuple[str, ...]) -> None:
    # Postgres refuses to touch one row twice in a statement; SQLite would apply both.
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        if not all(key in row for key in keys):
            continue  # no key given: a new row (an identity), it cannot clash with another
        key = tuple(row[name] for name in keys)
        if key in seen:
            raise InvalidValueError("two rows of one upsert have the same conflict key")
        seen.add(key)
