"""sqlite3: Decimal and UUID parameters bind the way the toolkit's columns store them.

A raw SQL string given a Decimal or a UUID (`fetch_value("... WHERE price = :p",
{"p": Decimal("1.50")})`) runs on Postgres, while sqlite3 refuses it outright
("type 'decimal.Decimal' is not supported"). A Decimal binds as its text, which a
NUMERIC column stores as a number (as ExactDecimal does); a UUID as its 32 hex
digits, the form Uuid columns store on SQLite. sqlite3's adapter table is the
process's own: an adapter the application registered first is kept.
"""

from __future__ import annotations

import sqlite3
import uuid
from decimal import Decimal

__all__ = ["register_sqlite_adapters"]


def register_sqlite_adapters() -> None:
    """Adapt Decimal and UUID parameters, unless the application adapts them itself."""
    if (Decimal, sqlite3.PrepareProtocol) not in sqlite3.adapters:
        sqlite3.register_adapter(Decimal, str)
    if (uuid.UUID, sqlite3.PrepareProtocol) not in sqlite3.adapters:
        sqlite3.register_adapter(uuid.UUID, _hex)


def _hex(value: uuid.UUID) -> str:
    return value.hex
