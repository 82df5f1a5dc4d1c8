"""Keep database passwords out of test reports, at every ``--tb`` style and ``--showlocals``.

A failed login leaves the password in the failure's frames: asyncpg's
``ConnectionParameters(password=...)`` and SQLAlchemy's ``cparams`` are arguments and
locals that pytest prints. Masking each place is whack-a-mole; instead every report's
text is scrubbed of the passwords this run knows (the URLs under test and the libpq
variable), whatever frame, argument, message or captured output they appear in.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Generator, Iterable
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.database.url import MASK

__all__ = ["known_passwords", "pytest_make_collect_report", "pytest_runtest_makereport", "scrub"]

# Where a run's database passwords come from; the plugin's --database-url is added to them.
URL_VARIABLES = ("TEST_DATABASE_URL", "DATABASE_URL", "TEST_POSTGRES_URL")


def known_passwords(urls: Iterable[str | None] = ()) -> list[str]:
    """The passwords in ``urls``, the URL variables and ``PGPASSWORD``, in every spelling.

    Longest first, so a password that contains another one is masked whole.
    """
    found: set[str] = set()
    for raw in [*urls, *(os.environ.get(name) for name in URL_VARIABLES)]:
        if not raw:
            continue
        try:
            url = make_url(raw)
        except (ArgumentError, ValueError):
            continue
        query_password = url.query.get("password")
        for secret in (url.password, query_password):
            if isinstance(secret, str) and secret:
                found.add(secret)
    if os.environ.get("PGPASSWORD"):
        found.add(os.environ["PGPASSWORD"])
    spellings = {form for secret in found for form in (secret, quote(secret, safe=""))}
    spellings |= {quote_plus(secret) for secret in found}
    return sorted(spellings, key=len, reverse=True)


def scrub(value: Any, secrets: list[str]) -> Any:
    """``value`` with every secret replaced by the mask; report objects are changed in place."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, list):
        value[:] = [scrub(item, secrets) for item in value]
        return value
    if isinstance(value, tuple):
        return tuple(scrub(item, secrets) for item in value)
    if isinstance(value, dict):
        return {key: scrub(item, secrets) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # pytest's Repr* classes: the traceback, arguments, locals, messages.
        for field in dataclasses.fields(value):
            current = getattr(value, field.name)
            object.__setattr__(value, field.name, scrub(current, secrets))
    return value


def _scrub_report(report: pytest.TestReport | pytest.CollectReport, config: pytest.Config) -> None:
    # The option is the full plugin's: without pytest-asyncio only the environment's URLs.
    secrets = known_passwords([config.getoption("--database-url", default=None)])
    if not secrets:
        return
    if isinstance(report.longrepr, str | tuple):
        report.longrepr = scrub(report.longrepr, secrets)
    elif report.longrepr is not None:
        scrub(report.longrepr, secrets)
    report.sections = [(title, scrub(text, secrets)) for title, text in report.sections]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Scrub each test phase's report before anything prints or sends it (xdist too)."""
    report = yield
    _scrub_report(report, item.config)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Scrub collection errors too (a conftest that connects at import, say)."""
    report = yield
    _scrub_report(report, collector.config)
    return report
