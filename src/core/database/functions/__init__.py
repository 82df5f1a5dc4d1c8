"""Portable SQL functions: the same meaning, value and Python type on SQLite and Postgres.

    from core.database import functions as pf
    select(pf.greatest(t.c.a, t.c.b), pf.string_agg(t.c.name, ", ", order_by=t.c.name))

Text: concat, substr, left, right, lower, upper, string_agg (= group_concat),
regular expressions through `col.regexp_match(p, flags)` / `col.regexp_replace(...)`
(flags i, c, g). Numbers: greatest, least, round (half away from zero), avg,
count_true. Datetimes: add_interval, datetime_diff, to_date, local_time; on a
`UTCDateTime` column `ts + timedelta`, `ts - ts`, `func.date(ts)` and `extract()`
use them. Importing the toolkit also makes SQLAlchemy's generic `func.round`,
`func.avg`, `func.greatest`, `func.least`, `func.substr`, `func.left`, `func.right`,
`func.string_agg`, `func.group_concat`, `func.date`, `func.sum`, `func.concat`,
`cast()`, `extract()`, `/` and the regexp operators portable (see docs/parity.md).
"""

from __future__ import annotations

from core.database.functions import sqlalchemy_hooks  # noqa: F401  (its compile hooks)
from core.database.functions.json import json_contains
from core.database.functions.portable import (
    avg,
    concat,
    count_true,
    greatest,
    group_concat,
    least,
    left,
    lower,
    mod,
    right,
    round,
    string_agg,
    substr,
    upper,
)
from core.database.functions.results import DecimalResult, FloatResult, IntegerResult
from core.database.functions.temporal import (
    add_interval,
    datetime_diff,
    local_time,
    to_date,
)

__all__ = [
    "DecimalResult",
    "FloatResult",
    "IntegerResult",
    "add_interval",
    "avg",
    "concat",
    "count_true",
    "datetime_diff",
    "greatest",
    "group_concat",
    "json_contains",
    "least",
    "left",
    "local_time",
    "lower",
    "mod",
    "right",
    "round",
    "string_agg",
    "substr",
    "to_date",
    "upper",
]
