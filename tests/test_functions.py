"""Portable SQL functions (core.database.functions): same value and Python type on both."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Integer, String, cast, func, literal, null, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import functions as pf
from tests.models import Measure


def same(actual: Any, expected: Any) -> None:
    """Equal, of the same type, and (for Decimal) with the same digits."""
    assert (actual, type(actual)) == (expected, type(expected))
    if isinstance(expected, Decimal):
        assert str(actual) == str(expected)


async def value(session: AsyncSession, expression: Any) -> Any:
    return await session.scalar(select(expression))


async def _rows(session: AsyncSession) -> None:
    session.add_all(
        [
            Measure(label="pear", small=1, big=2**40, ratio=0.5, money=Decimal("1.00"), flag=True),
            Measure(
                label="Apple", small=2, big=2**40, ratio=1.5, money=Decimal("2.00"), flag=False
            ),
            Measure(label="fig", small=2, big=1, ratio=2.5, money=Decimal("2.00"), flag=True),
            Measure(label=None, small=None, big=None, ratio=None, money=None, flag=None),
        ]
    )
    await session.flush()


@pytest.mark.parity("concat() skips NULLs")
@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("ab", "cd"), "abcd"),
        (("ab", None, "cd"), "abcd"),
        ((None, None), ""),
        (("n=", 5), "n=5"),
    ],
)
async def test_concat(db_session: AsyncSession, arguments: tuple[Any, ...], expected: str) -> None:
    parts = [null() if a is None else literal(a) for a in arguments]
    same(await value(db_session, func.concat(*parts)), expected)
    same(await value(db_session, pf.concat(*parts)), expected)


@pytest.mark.parity("|| with NULL is NULL")
async def test_concat_operator_with_null_is_null(db_session: AsyncSession) -> None:
    assert await value(db_session, literal("ab") + cast(null(), String())) is None


@pytest.mark.parity("greatest() / least() ignore NULLs")
@pytest.mark.parametrize(
    ("arguments", "largest", "smallest"),
    [
        ((1, 5, 3), 5, 1),
        ((1, None, 3), 3, 1),
        ((None, None), None, None),
        (("b", "a", "c"), "c", "a"),
        ((2.5, 1.5), 2.5, 1.5),
        ((7,), 7, 7),
    ],
)
async def test_greatest_and_least(
    db_session: AsyncSession, arguments: tuple[Any, ...], largest: Any, smallest: Any
) -> None:
    kind = Integer() if isinstance(arguments[0], int) else None
    parts = [null() if a is None else literal(a, kind) for a in arguments]
    same(await value(db_session, func.greatest(*parts)), largest)
    same(await value(db_session, pf.least(*parts)), smallest)


@pytest.mark.parity("greatest() over columns")
async def test_greatest_over_columns(db_session: AsyncSession) -> None:
    await _rows(db_session)
    rows = await db_session.scalars(
        select(pf.greatest(Measure.small, Measure.ratio)).order_by(Measure.id)
    )
    assert rows.all() == [1, 2, 2.5, None]


@pytest.mark.parity("substr() counts from 1, negative start does not wrap")
@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ((2,), "bcdef"),
        ((-3,), "abcdef"),
        ((2, 3), "bcd"),
        ((0, 3), "ab"),
        ((-3, 5), "a"),
        ((10,), ""),
        ((1, 0), ""),
    ],
)
async def test_substr(db_session: AsyncSession, arguments: tuple[int, ...], expected: str) -> None:
    same(await value(db_session, func.substr(literal("abcdef"), *arguments)), expected)
    same(await value(db_session, pf.substr(literal("abcdef"), *arguments)), expected)


@pytest.mark.parity("left() / right()")
@pytest.mark.parametrize(
    ("count", "first", "last"),
    [(2, "ab", "ef"), (0, "", ""), (-2, "abcd", "cdef"), (10, "abcdef", "abcdef")],
)
async def test_left_and_right(db_session: AsyncSession, count: int, first: str, last: str) -> None:
    same(await value(db_session, func.left(literal("abcdef"), count)), first)
    same(await value(db_session, func.right(literal("abcdef"), count)), last)


@pytest.mark.parity("lower() / upper() beyond ASCII")
@pytest.mark.parametrize(
    ("text", "lowered", "raised"),
    [("ÄÖÜ Straße", "äöü straße", "ÄÖÜ STRASSE"), ("Élan", "élan", "ÉLAN"), ("ΣΩ", "σω", "ΣΩ")],
)
async def test_case_folding_beyond_ascii(
    db_session: AsyncSession, text: str, lowered: str, raised: str
) -> None:
    same(await value(db_session, pf.lower(literal(text))), lowered)
    upper = await value(db_session, pf.upper(literal(text)))
    # Postgres keeps ß in upper() under libc collations, ICU makes it SS: compare ß-free.
    same(upper.replace("ß", "SS"), raised)


@pytest.mark.parity("round() half away from zero")
@pytest.mark.parametrize(
    ("number", "places", "expected"),
    [
        (2.5, 0, 3.0),
        (-2.5, 0, -3.0),
        (0.5, 0, 1.0),
        (1.005, 2, 1.01),
        (1.25, 1, 1.3),
        (Decimal("2.5"), 0, Decimal("3")),
        (Decimal("-1.45"), 1, Decimal("-1.5")),
        (7, 0, 7),
        (1250, -2, 1300),
    ],
)
async def test_round(db_session: AsyncSession, number: Any, places: int, expected: Any) -> None:
    same(await value(db_session, func.round(literal(number), places)), expected)


@pytest.mark.parity("round(avg(decimal), 2) is a Decimal")
async def test_round_of_avg_of_decimals(db_session: AsyncSession) -> None:
    await _rows(db_session)
    same(await value(db_session, func.round(func.avg(Measure.money), 2)), Decimal("1.67"))
    same(await value(db_session, pf.round(pf.avg(Measure.ratio), 1)), 1.5)


@pytest.mark.parity("string_agg() ordered, group_concat() the same")
async def test_string_agg(db_session: AsyncSession) -> None:
    await _rows(db_session)
    ordered = pf.string_agg(Measure.label, ", ", order_by=Measure.label)
    same(await value(db_session, ordered), "Apple, fig, pear")
    backwards = func.string_agg(Measure.label, "|", order_by=Measure.small.desc())
    assert (await value(db_session, backwards)).split("|")[0] in ("Apple", "fig")
    by_id = func.group_concat(Measure.small, "-", order_by=Measure.id)
    same(await value(db_session, by_id), "1-2-2")
    nothing = select(pf.string_agg(Measure.label, ",")).where(Measure.id < 0)
    assert await db_session.scalar(nothing) is None


@pytest.mark.parity("regexp_match() flags")
@pytest.mark.parametrize(
    ("pattern", "flags", "expected"),
    [
        ("^ap", None, False),
        ("^ap", "i", True),
        ("^Ap", "c", True),
        ("p.a", None, False),
        ("l.e", "i", False),
        ("P+", "i", True),
    ],
)
async def test_regexp_match(
    db_session: AsyncSession, pattern: str, flags: str | None, expected: bool
) -> None:
    await _rows(db_session)
    query = select(func.count()).where(Measure.label.regexp_match(pattern, flags))
    query = query.where(Measure.label == "Apple")
    assert bool(await db_session.scalar(query)) is expected


@pytest.mark.parity("regexp_replace() first match, g for all")
@pytest.mark.parametrize(
    ("flags", "expected"),
    [(None, "x-b-a"), ("g", "x-b-x"), ("gi", "x-b-x"), ("i", "x-b-a")],
)
async def test_regexp_replace(db_session: AsyncSession, flags: str | None, expected: str) -> None:
    expression = literal("a-b-a").regexp_replace("a", "x", flags)
    same(await value(db_session, expression), expected)
    groups = literal("2024-05").regexp_replace("(\\d+)-(\\d+)", "\\2/\\1")
    same(await value(db_session, groups), "05/2024")


@pytest.mark.parity("regexp flags that cannot mean the same are refused")
async def test_unportable_regexp_flags_are_refused(db_session: AsyncSession) -> None:
    with pytest.raises((ValueError, sa_exc.StatementError), match="not portable"):
        await value(db_session, literal("a").regexp_match("a", "x"))


@pytest.mark.parity("sum(boolean) refused, count_true() portable")
async def test_sum_of_booleans(db_session: AsyncSession) -> None:
    await _rows(db_session)
    with pytest.raises(sa_exc.CompileError, match="count_true"):
        await value(db_session, func.sum(Measure.flag))
    same(await value(db_session, pf.count_true(Measure.flag)), 2)
    same(await value(db_session, pf.count_true(Measure.small > 1)), 2)


@pytest.mark.parity("cast(text AS INTEGER) refuses bad input")
@pytest.mark.parametrize("text", ["12abc", "abc", "1.5"])
async def test_cast_of_bad_text_to_integer(db_session: AsyncSession, text: str) -> None:
    same(await value(db_session, cast(literal(" 42 "), Integer())), 42)
    with pytest.raises(sa_exc.DBAPIError):
        await value(db_session, cast(literal(text), Integer()))
    await db_session.rollback()


@pytest.mark.parity("integer division, modulo and LIKE")
async def test_integer_operators(db_session: AsyncSession) -> None:
    seven, minus = literal(7, Integer()), literal(-7, Integer())
    same(await value(db_session, seven // 2), 3)
    same(await value(db_session, minus % 3), -1)
    same(await value(db_session, func.mod(minus, 3)), -1)
    assert await value(db_session, literal("Abc").like("a%")) in (False, 0)


@pytest.mark.parity("length() of text and bytes, trim()")
async def test_length_and_trim(db_session: AsyncSession) -> None:
    same(await value(db_session, func.length(literal("äbc"))), 3)
    same(await value(db_session, func.char_length(literal("äbc"))), 3)
    same(await value(db_session, func.trim(literal("  x  "))), "x")


@pytest.mark.parity("coalesce() keeps the column type")
async def test_coalesce(db_session: AsyncSession) -> None:
    await _rows(db_session)
    query = select(func.coalesce(Measure.money, Decimal("0"))).order_by(Measure.id)
    assert [str(v) for v in (await db_session.scalars(query)).all()] == [
        "1.00",
        "2.00",
        "2.00",
        "0.00",
    ]


@pytest.mark.parity("count(distinct)")
async def test_count_distinct(db_session: AsyncSession) -> None:
    await _rows(db_session)
    same(await value(db_session, func.count(Measure.small.distinct())), 2)
    same(await value(db_session, func.count(Measure.id)), 4)
