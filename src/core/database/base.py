"""The declarative `Base`: async attribute access, constraint names, portable annotation types."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Enum as SAEnum
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase

from core.database.types import (
    PORTABLE_ENUM_OPTIONS,
    CheckedFloat,
    CheckedInteger,
    Duration,
    ExactDecimal,
    JSONType,
    PortableUuid,
    UTCDateTime,
)

__all__ = [
    "NAMING_CONVENTION",
    "POSTGRES_NAMING_CONVENTION",
    "TYPE_ANNOTATION_MAP",
    "Base",
    "new_metadata",
]

# Named constraints are what lets batch migrations on SQLite find and alter them,
# and what error messages report.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Postgres' own default names (auth_user_pkey, auth_user_email_key, orders_user_id_fkey):
# the convention for models of a database that was created without the toolkit's, so
# they keep its existing names (see docs/migrations.md, "Adopting an existing database").
POSTGRES_NAMING_CONVENTION: dict[str, str] = {
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}

TYPE_ANNOTATION_MAP: dict[Any, Any] = {
    datetime: UTCDateTime(),
    timedelta: Duration(),
    uuid.UUID: PortableUuid(),
    int: CheckedInteger(),
    float: CheckedFloat(),
    Decimal: ExactDecimal(),
    dict[str, Any]: JSONType,
    list[Any]: JSONType,
    # Copied per annotated enum class: VARCHAR + a named CHECK, never a native ENUM.
    enum.Enum: SAEnum(enum.Enum, length=64, **PORTABLE_ENUM_OPTIONS),
}


def new_metadata(naming_convention: dict[str, str] | None = None) -> MetaData:
    """A MetaData with the toolkit's naming convention (or `naming_convention`)."""
    return MetaData(naming_convention=naming_convention or NAMING_CONVENTION)


class Base(AsyncAttrs, DeclarativeBase):
    """Declarative base for host-app models.

    `datetime` columns are aware UTC, `dict[str, Any]` is JSON (JSONB on Postgres),
    `uuid.UUID` is native on Postgres, `Decimal` never rounds silently, and an
    `enum.Enum` annotation becomes VARCHAR plus a CHECK on both backends.
    """

    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP
