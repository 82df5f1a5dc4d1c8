"""Postgres' string functions and boolean aggregates, under their own names, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Boolean, Integer, String, cast, func, literal, null, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import InvalidValueError
from tests.models import Measure
from tests.test_functions import same, value

CASES: list[tuple[str, Any, Any]] = [
    ("reverse", lambda: func.reverse("abc"), "cba"),
    ("reverse unicode", lambda: func.reverse("äbç"), "çbä"),
    ("repeat", lambda: func.repeat("ab", 3), "ababab"),
    ("repeat 0", lambda: func.repeat("ab", 0), ""),
    ("repeat negative", lambda: func.repeat("ab", -2), ""),
    ("lpad", lambda: func.lpad("7", 3, "0"), "007"),
    ("lpad spaces", lambda: func.lpad("7", 3), "  7"),
    ("lpad longer fill", lambda: func.lpad("7", 6, "ab"), "ababa7"),
    ("lpad truncates", lambda: func.lpad("hello", 3, "x"), "hel"),
    ("lpad empty fill", lambda: func.lpad("hi", 5, ""), "hi"),
    ("rpad", lambda: func.rpad("7", 3, "0"), "700"),
    ("rpad truncates", lambda: func.rpad("hello", 2), "he"),
    ("split_part", lambda: func.split_part("a,b,c", ",", 2), "b"),
    ("split_part beyond", lambda: func.split_part("a,b,c", ",", 5), ""),
    ("split_part from the end", lambda: func.split_part("a,b,c", ",", -1), "c"),
    ("split_part longer delimiter", lambda: func.split_part("a::b", "::", 2), "b"),
    ("strpos", lambda: func.strpos("abcabc", "ca"), 3),
    ("strpos missing", lambda: func.strpos("abc", "z"), 0),
    ("md5", lambda: func.md5("a"), "0cc175b9c0f1b6a831c399e269772661"),
    ("initcap", lambda: func.initcap("hello wORLD foo-bar x1y"), "Hello World Foo-Bar X1y"),
    ("btrim", lambda: func.btrim("xxaxx", "x"), "a"),
    ("btrim spaces", lambda: func.btrim("  a  "), "a"),
    ("octet_length", lambda: func.octet_length("äb"), 3),
    ("ascii", lambda: func.ascii("A"), 65),
    ("ascii beyond", lambda: func.ascii("é"), 233),
    ("chr", lambda: func.chr(65), "A"),
    ("chr beyond", lambda: func.chr(233), "é"),
]


@pytest.mark.parity("Postgres' string functions under their own names")
@pytest.mark.parametrize(("name", "expression", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_postgres_string_functions(
    db_session: AsyncSession, name: str, expression: Any, expected: Any
) -> None:
    same(await value(db_session, expression()), expected)


NULLS = [
    lambda: func.reverse(cast(null(), String())),
    lambda: func.repeat(cast(null(), String()), 2),
    lambda: func.lpad(cast(null(), String()), 3, "0"),
    lambda: func.rpad("a", cast(null(), Integer()), "0"),
    lambda: func.split_part("a,b", cast(null(), String()), 1),
    lambda: func.strpos(cast(null(), String()), "a"),
    lambda: func.md5(cast(null(), String())),
    lambda: func.initcap(cast(null(), String())),
    lambda: func.btrim(cast(null(), String())),
    lambda: func.octet_length(cast(null(), String())),
    lambda: func.ascii(cast(null(), String())),
    lambda: func.chr(cast(null(), Integer())),
]


@pytest.mark.parity("Postgres' string functions give NULL for a NULL argument")
@pytest.mark.parametrize("expression", NULLS)
async def test_postgres_string_functions_of_null(db_session: AsyncSession, expression: Any) -> None:
    assert await value(db_session, expression()) is None


@pytest.mark.parity("Postgres' string functions refuse what Postgres refuses")
@pytest.mark.parametrize(
    "expression",
    [lambda: func.split_part("a,b", ",", 0), lambda: func.chr(-1)],
    ids=["split_part field 0", "chr(-1)"],
)
async def test_postgres_string_functions_refuse(db_session: AsyncSession, expression: Any) -> None:
    with pytest.raises(InvalidValueError):
        await value(db_session, expression())
    await db_session.rollback()


@pytest.mark.parity("bool_and / bool_or / every over rows, NULLs skipped")
async def test_boolean_aggregates(db_session: AsyncSession) -> None:
    db_session.add_all([Measure(flag=True), Measure(flag=False), Measure(flag=None)])
    await db_session.flush()
    row = (
        await db_session.execute(
            select(
                func.bool_and(Measure.flag), func.bool_or(Measure.flag), func.every(Measure.flag)
            )
        )
    ).one()
    assert [(v, type(v)) for v in row] == [(False, bool), (True, bool), (False, bool)]
    only_true = select(func.bool_and(Measure.flag)).where(Measure.flag == true())
    same(await db_session.scalar(only_true), True)
    none = select(func.bool_or(Measure.flag)).where(Measure.flag.is_(None))
    assert await db_session.scalar(none) is None
    assert isinstance(func.bool_and(literal(True, Boolean())).type, Boolean)


@pytest.mark.parity("SQLite's instr() and ifnull() run on Postgres too")
async def test_sqlite_spellings_run_on_both(db_session: AsyncSession) -> None:
    same(await value(db_session, func.instr("abcabc", "ca")), 3)
    same(await value(db_session, func.instr("abc", "z")), 0)
    same(await value(db_session, func.ifnull(cast(null(), Integer()), 7)), 7)
    same(await value(db_session, func.ifnull("a", "b")), "a")
    assert await value(db_session, func.instr(cast(null(), String()), "a")) is None
